import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What one list endpoint keeps at most: ~25 pages of 50 VMs, and no more than 64 answers however small. */
const defaultLimits = { maxBytes: 2 * 1024 * 1024, maxAnswers: 64 };

/** A serialized answer and its entity tag (a hash of the bytes: equal answers, equal tags). */
export interface KeptAnswer {
  body: Buffer;
  etag: string;
}

/**
 * The serialized answers of a list endpoint, kept while what they were made from stays as it was.
 * A page is dear to make (rows, views, serializer: ~0.5 ms for 50 VMs) and clients poll lists; a
 * kept one costs a look at the stamp. The stamp is read before an answer is made, so an answer
 * is never older than the stamp it is kept under; a stamp that moves drops every answer.
 */
export class KeptAnswers {
  private stamp: string | undefined;
  private readonly answers = new Map<string, KeptAnswer>();
  private bytes = 0;

  constructor(private readonly limits = defaultLimits) {}

  /**
   * The answer to `key` as of `stamp`: kept, or made now (and kept, oldest out first, within the
   * limits). The key must hold all that the answer depends on besides the stamp: a list's whole
   * query (JSON of the validated query string; the same query spelt otherwise is just kept twice).
   */
  answer(stamp: string, key: string, make: () => Serialized): KeptAnswer {
    if (stamp !== this.stamp) {
      this.answers.clear();
      this.bytes = 0;
      this.stamp = stamp;
    }
    const kept = this.answers.get(key);
    if (kept) return kept;
    const body = bufferOf(make());
    const made = { body, etag: entityTag(body) };
    const { maxBytes, maxAnswers } = this.limits;
    if (body.length > maxBytes) return made;
    for (const [oldKey, old] of this.answers) {
      if (this.bytes + body.length <= maxBytes && this.answers.size < maxAnswers) break;
      this.answers.delete(oldKey);
      this.bytes -= old.body.length;
    }
    this.answers.set(key, made);
    this.bytes += body.length;
    return made;
  }
}

/** What reply.serialize returns: a string for every JSON schema. */
type Serialized = ReturnType<FastifyReply['serialize']>;

function bufferOf(body: Serialized): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : Buffer.from(body);
}

// A strong tag: the same bytes give the same tag across stamps and restarts, so a poller's
// If-None-Match still hits after writes that left its page as it was.
function entityTag(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/**
 * Whether If-None-Match names the current answer (RFC 9110 13.1.2): `*`, or a list of tags
 * compared weakly (a W/ prefix does not matter for GET).
 */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === etag;
  });
}

/**
 * Answers a list request with its page as of `stamp`: the kept answer to this query, or the page
 * makePage returns, serialized by the route's own response schema and kept. A client that sends
 * the answer's ETag back in If-None-Match gets 304 with no body while the page is unchanged.
 */
export function sendKeptPage(pages: KeptAnswers, request: FastifyRequest, reply: FastifyReply, stamp: string, makePage: () => unknown): FastifyReply {
  const { body, etag } = pages.answer(stamp, JSON.stringify(request.query), () => reply.serialize(makePage()));
  reply.header('etag', etag);
  const ifNoneMatch = request.headers['if-none-match'];
  if (matchesIfNoneMatch(typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined, etag)) return reply.code(304).send();
  // Serialized already: sent as the JSON it is.
  return reply.type('application/json; charset=utf-8').send(body);
}
