import { parseEventStream } from './event-stream.js';
import { Transport, segment } from './transport.js';
import type {
  BuildImageRequest,
  Health,
  Image,
  ImageList,
  ImagePageQuery,
  Job,
  JobEvent,
  JobList,
  JobListFilter,
  RegisterImageRequest,
  Version,
} from './types.js';
import { waitJob, type WaitJobOptions } from './wait-job.js';

export interface ClientOptions {
  /** The daemon's unix socket; no token needed, file permissions guard it. */
  socketPath?: string;
  /** The daemon's TCP listener, e.g. http://127.0.0.1:7070; needs `token`. */
  baseUrl?: string;
  token?: string;
}

export interface IdempotencyOptions {
  /** Replays of a request with the same key get the first answer instead of acting twice. */
  idempotencyKey?: string;
}

export interface BangerClient {
  health(): Promise<Health>;
  version(): Promise<Version>;
  listImages(query?: ImagePageQuery): Promise<ImageList>;
  getImage(idOrName: string): Promise<Image>;
  registerImage(body: RegisterImageRequest, options?: IdempotencyOptions): Promise<{ image: Image; created: boolean }>;
  promoteImage(idOrName: string, options?: IdempotencyOptions): Promise<Job>;
  buildImage(body: BuildImageRequest, options?: IdempotencyOptions): Promise<Job>;
  reseedImage(idOrName: string, options?: IdempotencyOptions): Promise<Image>;
  deleteImage(idOrName: string): Promise<Image>;
  listJobs(filter?: JobListFilter): Promise<JobList>;
  getJob(id: string, options?: { wait?: number; signal?: AbortSignal }): Promise<Job>;
  cancelJob(id: string, options?: IdempotencyOptions): Promise<Job>;
  jobEvents(id: string, options?: { lastEventId?: number; signal?: AbortSignal }): AsyncIterable<JobEvent>;
  waitJob(id: string, options?: WaitJobOptions): Promise<Job>;
  close(): Promise<void>;
}

export function createClient(options: ClientOptions): BangerClient {
  const transport = new Transport(options);
  const idempotency = (options?: IdempotencyOptions) => ({ 'idempotency-key': options?.idempotencyKey });

  const client: BangerClient = {
    async health() {
      return (await transport.json<Health>('GET', '/healthz')).body;
    },
    async version() {
      return (await transport.json<Version>('GET', '/version')).body;
    },
    async listImages(query = {}) {
      return (await transport.json<ImageList>('GET', '/images', { query })).body;
    },
    async getImage(idOrName) {
      return (await transport.json<Image>('GET', `/images/${segment(idOrName)}`)).body;
    },
    async registerImage(body, requestOptions) {
      const response = await transport.json<Image>('POST', '/images', { body, headers: idempotency(requestOptions) });
      return { image: response.body, created: response.status === 201 };
    },
    async promoteImage(idOrName, requestOptions) {
      const path = `/images/${segment(idOrName)}/promote`;
      return (await transport.json<Job>('POST', path, { headers: idempotency(requestOptions) })).body;
    },
    async buildImage(body, requestOptions) {
      return (await transport.json<Job>('POST', '/images/builds', { body, headers: idempotency(requestOptions) })).body;
    },
    async reseedImage(idOrName, requestOptions) {
      const path = `/images/${segment(idOrName)}/reseed`;
      return (await transport.json<Image>('POST', path, { headers: idempotency(requestOptions) })).body;
    },
    async deleteImage(idOrName) {
      return (await transport.json<Image>('DELETE', `/images/${segment(idOrName)}`)).body;
    },
    async listJobs(filter = {}) {
      return (await transport.json<JobList>('GET', '/jobs', { query: filter })).body;
    },
    async getJob(id, requestOptions = {}) {
      const { wait, signal } = requestOptions;
      return (await transport.json<Job>('GET', `/jobs/${segment(id)}`, { query: { wait }, signal })).body;
    },
    async cancelJob(id, requestOptions) {
      const path = `/jobs/${segment(id)}/cancel`;
      return (await transport.json<Job>('POST', path, { headers: idempotency(requestOptions) })).body;
    },
    jobEvents(id, streamOptions = {}) {
      return jobEventStream(transport, id, streamOptions);
    },
    waitJob(id, waitOptions) {
      return waitJob(client, id, waitOptions);
    },
    close() {
      return transport.close();
    },
  };
  return client;
}

async function* jobEventStream(
  transport: Transport,
  id: string,
  options: { lastEventId?: number; signal?: AbortSignal },
): AsyncGenerator<JobEvent> {
  const body = await transport.stream(`/jobs/${segment(id)}/events`, {
    query: { lastEventId: options.lastEventId },
    signal: options.signal,
  });
  try {
    for await (const event of parseEventStream(body)) {
      yield { id: Number(event.id), type: event.event, job: JSON.parse(event.data) as Job };
    }
  } finally {
    // A consumer that stops early must not leave the connection streaming into nowhere.
    if (!body.destroyed) body.destroy();
  }
}
