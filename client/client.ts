import { parseEventStream } from './event-stream.js';
import { execEventStream, sendExecStdin, type ExecOptions } from './exec-stream.js';
import { readGuestPath, writeGuestDirectory, writeGuestFile, type GuestPathContent, type WriteDirectoryOptions, type WriteFileOptions } from './guest-files.js';
import { Transport, segment, type ByteSource } from './transport.js';
import type {
  BuildImageRequest,
  CreateSnapshotRequest,
  CreateVmRequest,
  ExecEvent,
  ExecRequest,
  Health,
  Image,
  ImageList,
  ImagePageQuery,
  Job,
  JobEvent,
  JobList,
  JobListFilter,
  RegisterImageRequest,
  Snapshot,
  SnapshotList,
  SnapshotPageQuery,
  StdinSent,
  Version,
  Vm,
  VmList,
  VmListQuery,
  WarmImageRequest,
  WrittenPath,
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

export interface StopVmOptions extends IdempotencyOptions {
  /** Seconds the guest gets to power off by itself before the hypervisor quits (daemon default 30). */
  graceSeconds?: number;
}

export interface BangerClient {
  health(): Promise<Health>;
  version(): Promise<Version>;
  /** The daemon's metrics in the Prometheus text format, as a scrape gets them. */
  metrics(): Promise<string>;
  listImages(query?: ImagePageQuery): Promise<ImageList>;
  getImage(idOrName: string): Promise<Image>;
  registerImage(body: RegisterImageRequest, options?: IdempotencyOptions): Promise<{ image: Image; created: boolean }>;
  promoteImage(idOrName: string, options?: IdempotencyOptions): Promise<Job>;
  buildImage(body: BuildImageRequest, options?: IdempotencyOptions): Promise<Job>;
  reseedImage(idOrName: string, options?: IdempotencyOptions): Promise<Image>;
  deleteImage(idOrName: string): Promise<Image>;
  /** Starts the job that boots, snapshots and deletes a VM of the image; its result is `{ snapshot }`. */
  warmImage(idOrName: string, body?: WarmImageRequest, options?: IdempotencyOptions): Promise<Job>;
  /** Starts the snapshot job of a VM; its result is `{ snapshot }`. */
  createSnapshot(vmIdOrName: string, body: CreateSnapshotRequest, options?: IdempotencyOptions): Promise<Job>;
  listSnapshots(query?: SnapshotPageQuery): Promise<SnapshotList>;
  getSnapshot(idOrName: string): Promise<Snapshot>;
  deleteSnapshot(idOrName: string): Promise<Snapshot>;
  listVms(query?: VmListQuery): Promise<VmList>;
  getVm(idOrName: string): Promise<Vm>;
  /** Starts the create job; follow it with waitJob, its result is `{ vm }`. */
  createVm(body: CreateVmRequest, options?: IdempotencyOptions): Promise<Job>;
  stopVm(idOrName: string, options?: StopVmOptions): Promise<Job>;
  startVm(idOrName: string, options?: IdempotencyOptions): Promise<Job>;
  /** Answers once the VM is paused (or resumed): no job to follow. */
  pauseVm(idOrName: string, options?: IdempotencyOptions): Promise<Vm>;
  resumeVm(idOrName: string, options?: IdempotencyOptions): Promise<Vm>;
  restartVm(idOrName: string, options?: StopVmOptions): Promise<Job>;
  deleteVm(idOrName: string): Promise<Job>;
  /** One job deleting every VM that carries all these labels. */
  deleteVmsByLabel(labels: Record<string, string>): Promise<Job>;
  /**
   * Runs a program in a running VM: its events as they come (started, output, exit). Breaking
   * out of the loop, or aborting the signal, kills the program in the guest. With
   * `stdinStream: true` and `options.stdin`, the input streams to the program (any size) while
   * its events come; an upload that fails ends the program and makes the loop throw. With
   * `stdinStream: true` alone, send it yourself with sendExecStdin and the started event's execId.
   */
  exec(idOrName: string, body: ExecRequest, options?: ExecOptions): AsyncIterable<ExecEvent>;
  /**
   * Streams standard input to an exec started with `stdinStream: true`, then closes it; answers
   * once the program took it all. Sent once per exec; 404 exec-not-found means it already ended
   * (or never waited for input). A source that fails part-way kills the program.
   */
  sendExecStdin(idOrName: string, execId: string, source: ByteSource, options?: { signal?: AbortSignal }): Promise<StdinSent>;
  /**
   * Writes a file in a running VM from bytes streamed as they come (a file stream, a Buffer, an
   * async iterable): the guest gets it whole or not at all, renamed into place when complete.
   * Errors: 404 guest-path-not-found (a missing parent, unless `mkdirs`), 409 guest-path-conflict
   * (a directory is in the way), 507 guest-disk-full; nothing half-written is left in each case.
   */
  writeFile(idOrName: string, guestPath: string, source: ByteSource, options?: WriteFileOptions): Promise<WrittenPath>;
  /**
   * Unpacks a tar stream (entries relative, e.g. `tar -c -C DIR .`) into a directory of a
   * running VM, created or merged into; streamed, and unpacked only once it arrived whole.
   * Errors as writeFile, plus 422 when the guest's tar cannot read the archive.
   */
  writeDirectory(idOrName: string, guestPath: string, tar: ByteSource, options?: WriteDirectoryOptions): Promise<WrittenPath>;
  /**
   * Reads a path of a running VM (symlinks followed): a regular file as its bytes with its size
   * and mode, a directory as a tar stream of its contents, both streamed. Read `body` to the end:
   * a stream that errors instead (the connection cut) means the copy is incomplete.
   * Errors: 404 guest-path-not-found, 409 guest-path-conflict (neither a file nor a directory).
   */
  readPath(idOrName: string, guestPath: string, options?: { signal?: AbortSignal }): Promise<GuestPathContent>;
  /** The serial console text, or its last `tail` lines. */
  vmConsole(idOrName: string, options?: { tail?: number }): Promise<string>;
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
    async metrics() {
      return (await transport.stream('/metrics', {}, 'GET', 'text/plain')).text();
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
    async warmImage(idOrName, body = {}, requestOptions) {
      return (await transport.json<Job>('POST', `/images/${segment(idOrName)}/warm`, { body, headers: idempotency(requestOptions) })).body;
    },
    async createSnapshot(vmIdOrName, body, requestOptions) {
      return (await transport.json<Job>('POST', `/vms/${segment(vmIdOrName)}/snapshots`, { body, headers: idempotency(requestOptions) })).body;
    },
    async listSnapshots(query = {}) {
      return (await transport.json<SnapshotList>('GET', '/snapshots', { query })).body;
    },
    async getSnapshot(idOrName) {
      return (await transport.json<Snapshot>('GET', `/snapshots/${segment(idOrName)}`)).body;
    },
    async deleteSnapshot(idOrName) {
      return (await transport.json<Snapshot>('DELETE', `/snapshots/${segment(idOrName)}`)).body;
    },
    async listVms(query = {}) {
      const { label, ...rest } = query;
      return (await transport.json<VmList>('GET', `/vms${labelQuery(label ?? [], rest)}`)).body;
    },
    async getVm(idOrName) {
      return (await transport.json<Vm>('GET', `/vms/${segment(idOrName)}`)).body;
    },
    async createVm(body, requestOptions) {
      return (await transport.json<Job>('POST', '/vms', { body, headers: idempotency(requestOptions) })).body;
    },
    async stopVm(idOrName, requestOptions = {}) {
      const path = `/vms/${segment(idOrName)}/stop`;
      return (await transport.json<Job>('POST', path, { query: { graceSeconds: requestOptions.graceSeconds }, headers: idempotency(requestOptions) })).body;
    },
    async startVm(idOrName, requestOptions) {
      return (await transport.json<Job>('POST', `/vms/${segment(idOrName)}/start`, { headers: idempotency(requestOptions) })).body;
    },
    async pauseVm(idOrName, requestOptions) {
      return (await transport.json<Vm>('POST', `/vms/${segment(idOrName)}/pause`, { headers: idempotency(requestOptions) })).body;
    },
    async resumeVm(idOrName, requestOptions) {
      return (await transport.json<Vm>('POST', `/vms/${segment(idOrName)}/resume`, { headers: idempotency(requestOptions) })).body;
    },
    async restartVm(idOrName, requestOptions = {}) {
      const path = `/vms/${segment(idOrName)}/restart`;
      return (await transport.json<Job>('POST', path, { query: { graceSeconds: requestOptions.graceSeconds }, headers: idempotency(requestOptions) })).body;
    },
    async deleteVm(idOrName) {
      return (await transport.json<Job>('DELETE', `/vms/${segment(idOrName)}`)).body;
    },
    async deleteVmsByLabel(labels) {
      const selectors = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
      return (await transport.json<Job>('DELETE', `/vms${labelQuery(selectors)}`)).body;
    },
    exec(idOrName, body, execOptions = {}) {
      return execEventStream(transport, idOrName, body, execOptions);
    },
    sendExecStdin(idOrName, execId, source, stdinOptions = {}) {
      return sendExecStdin(transport, idOrName, execId, source, stdinOptions.signal);
    },
    writeFile(idOrName, guestPath, source, writeOptions) {
      return writeGuestFile(transport, idOrName, guestPath, source, writeOptions);
    },
    writeDirectory(idOrName, guestPath, tar, writeOptions) {
      return writeGuestDirectory(transport, idOrName, guestPath, tar, writeOptions);
    },
    readPath(idOrName, guestPath, readOptions) {
      return readGuestPath(transport, idOrName, guestPath, readOptions);
    },
    async vmConsole(idOrName, consoleOptions = {}) {
      // A plain-text answer: read the raw body rather than parse JSON.
      const body = await transport.stream(`/vms/${segment(idOrName)}/console`, { query: { tail: consoleOptions.tail } });
      return body.text();
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

/** `?label=a=1&label=b=2&…`, built here: the transport's query option holds one value per name. */
function labelQuery(selectors: string[], others: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const selector of selectors) params.append('label', selector);
  for (const [name, value] of Object.entries(others)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
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
