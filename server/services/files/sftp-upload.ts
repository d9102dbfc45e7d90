import { Writable } from 'node:stream';
import type ssh2 from 'ssh2';

/**
 * A Writable into a new file over SFTP that keeps several write requests in flight. ssh2's own
 * write stream waits for each write's answer before sending the next; through a guest under
 * software emulation each answer takes tens of milliseconds, which held uploads to ~0.5 MB/s.
 * Writes at known offsets may complete in any order, so up to IN_FLIGHT go out at once, and the
 * stream stops taking data (backpressure to the HTTP request) while that many are outstanding.
 */

// OpenSSH's sftp-server takes writes of up to 256 KiB; 32 KiB fits every server's minimum.
const PIECE_BYTES = 32 * 1024;
const IN_FLIGHT = 16;

export class SftpUpload extends Writable {
  private handle: Buffer | undefined;
  private position = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  /** Called once fewer than IN_FLIGHT writes are outstanding (or all ended, for _final). */
  private waiting: (() => void) | undefined;

  constructor(
    private readonly sftp: ssh2.SFTPWrapper,
    private readonly path: string,
    private readonly mode: number,
  ) {
    super({ highWaterMark: PIECE_BYTES * 4 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    // wx: the path is a fresh temporary name; an existing file there is an error, not a target.
    this.sftp.open(this.path, 'wx', { mode: this.mode }, (error, handle) => {
      if (error) return callback(error);
      this.handle = handle;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) return callback(this.failure);
    for (let offset = 0; offset < chunk.length; offset += PIECE_BYTES) this.send(chunk.subarray(offset, offset + PIECE_BYTES));
    this.whenBelow(IN_FLIGHT, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.whenBelow(1, (error) => {
      if (error) return callback(error);
      this.closeHandle(callback);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.handle === undefined) return callback(error);
    this.closeHandle(() => callback(error));
  }

  private send(piece: Buffer): void {
    const handle = this.handle;
    if (handle === undefined) throw new Error('write before open');
    const at = this.position;
    this.position += piece.length;
    this.inFlight += 1;
    this.sftp.write(handle, piece, 0, piece.length, at, (error) => {
      this.inFlight -= 1;
      if (error && !this.failure) this.failure = error;
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.();
    });
  }

  private whenBelow(limit: number, callback: (error?: Error | null) => void): void {
    const check = (): void => {
      if (this.failure) return callback(this.failure);
      if (this.inFlight < limit) return callback();
      this.waiting = check;
    };
    check();
  }

  private closeHandle(callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return callback();
    this.sftp.close(handle, (error) => callback(error ?? null));
  }
}
