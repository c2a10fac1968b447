/**
 * Read buffers for streaming connections on the `handles` data path.
 *
 * By default every read of a libuv handle allocates a fresh 64 KiB backing store, shrunk to the
 * bytes read and freed by the garbage collector later. For a connection exchanging a line that
 * is two small allocations; for a bulk stream it is an allocation, a resize and a free per 64 KiB,
 * and the freed memory lingers in the allocator (the gateway's RSS doubled after a bulk phase).
 * A handle that has carried `STREAMING_THRESHOLD_BYTES` is given a buffer of its own to read
 * into (`useUserBuffer`): no allocation per read, the bytes written straight from it. At most
 * one chunk per direction is in flight (reading stops while a write is queued), so the buffer is
 * never overwritten while the kernel still needs it.
 *
 * The number lent at once is bounded (a handle keeps its buffer for its lifetime; past the bound
 * streams read as before), and a few returned buffers are kept for the next streams.
 */

/** Bytes of one read buffer: libuv's own read size. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Bytes read from one handle before it is given a buffer of its own. */
export const STREAMING_THRESHOLD_BYTES = 256 * 1024;
/** Buffers lent at once: 256 × 64 KiB = 16 MiB at most. */
export const MAX_LENT_BUFFERS = 256;
/** Returned buffers kept for reuse. */
const MAX_FREE_BUFFERS = 16;

/** A bounded pool of read buffers. */
export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private lent = 0;

  constructor(
    private readonly maxLent = MAX_LENT_BUFFERS,
    private readonly bufferBytes = READ_BUFFER_BYTES,
  ) {}

  /** Buffers currently lent. */
  get lentCount(): number {
    return this.lent;
  }

  /** A buffer, or undefined when `maxLent` are already lent. */
  take(): Buffer | undefined {
    if (this.lent >= this.maxLent) return undefined;
    this.lent++;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Return a buffer whose handle is closed (nothing reads into it any more). */
  give(buffer: Buffer): void {
    this.lent--;
    if (this.free.length < MAX_FREE_BUFFERS) this.free.push(buffer);
  }
}
