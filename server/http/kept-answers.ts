import type { FastifyReply } from 'fastify';

/** What one list endpoint keeps at most: ~25 pages of 50 VMs, and no more than 64 answers however small. */
const defaultLimits = { maxBytes: 2 * 1024 * 1024, maxAnswers: 64 };

/**
 * The serialized answers of a list endpoint, kept while what they were made from stays as it was.
 * A page is dear to make (rows, views, serializer: ~0.5 ms for 50 VMs) and clients poll lists; a
 * kept one costs a look at the stamp. The stamp is read before an answer is made, so an answer
 * is never older than the stamp it is kept under; a stamp that moves drops every answer.
 */
export class KeptAnswers {
  private stamp: string | undefined;
  private readonly answers = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly limits = defaultLimits) {}

  /**
   * The answer to `key` as of `stamp`: kept, or made now (and kept, oldest out first, within the
   * limits). The key must hold all that the answer depends on besides the stamp: a list's whole
   * query (JSON of the validated query string; the same query spelt otherwise is just kept twice).
   */
  answer(stamp: string, key: string, make: () => Serialized): Buffer {
    if (stamp !== this.stamp) {
      this.answers.clear();
      this.bytes = 0;
      this.stamp = stamp;
    }
    const kept = this.answers.get(key);
    if (kept) return kept;
    const made = bufferOf(make());
    const { maxBytes, maxAnswers } = this.limits;
    if (made.length > maxBytes) return made;
    for (const [oldKey, old] of this.answers) {
      if (this.bytes + made.length <= maxBytes && this.answers.size < maxAnswers) break;
      this.answers.delete(oldKey);
      this.bytes -= old.length;
    }
    this.answers.set(key, made);
    this.bytes += made.length;
    return made;
  }
}

/** What reply.serialize returns: a string for every JSON schema. */
type Serialized = ReturnType<FastifyReply['serialize']>;

function bufferOf(body: Serialized): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : Buffer.from(body);
}

/**
 * Answers a list request with its page as of `stamp`: the kept answer to this query, or the page
 * makePage returns, serialized by the route's own response schema and kept.
 */
export function sendKeptPage(pages: KeptAnswers, reply: FastifyReply, stamp: string, query: unknown, makePage: () => unknown): FastifyReply {
  const body = pages.answer(stamp, JSON.stringify(query), () => reply.serialize(makePage()));
  // Serialized already: sent as the JSON it is.
  return reply.type('application/json; charset=utf-8').send(body);
}
