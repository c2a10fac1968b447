/**
 * Read buffers of the `handles` data path.
 *
 * By default every read of a libuv handle allocates a fresh 64 KiB backing store, shrunk to the
 * bytes read and freed by the garbage collector later: for a connection exchanging a line, four
 * such allocations (two reads and two EOFs); for a bulk stream one per 64 KiB, and the freed
 * memory lingers in the allocator (the gateway's RSS doubled after a bulk phase).
 *
 * Instead every handle reads into one `shared` buffer (`useUserBuffer`) and the bytes are copied
 * out at once into a right-sized Buffer (small ones come from Node's pool). A handle that has
 * carried `STREAMING_THRESHOLD_BYTES` is lent a buffer of its own: its chunks are written
 * straight from it, without the copy. At most one chunk per direction is in flight (reading
 * stops while a write is queued), so a lent buffer is never overwritten while the kernel still
 * needs it. The number lent at once is bounded (a handle keeps its buffer until it closes; past
 * the bound streams keep copying), and a few returned buffers are kept for the next streams.
 */

/** Bytes of one read buffer: libuv's own read size. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Bytes read from one handle before it is given a buffer of its own. */
export const STREAMING_THRESHOLD_BYTES = 256 * 1024;
/** Buffers lent at once: 256 × 64 KiB = 16 MiB at most. */
export const MAX_LENT_BUFFERS = 256;
/** Returned buffers kept for reuse (256 KiB: what an idle gateway keeps after a bulk burst). */
const MAX_FREE_BUFFERS = 4;

/** A bounded pool of read buffers. */
export class ReadBufferPool {
  /** The buffer every handle without one of its own reads into. */
  readonly shared: Buffer;
  private readonly free: Buffer[] = [];
  private lent = 0;

  constructor(
    private readonly maxLent = MAX_LENT_BUFFERS,
    private readonly bufferBytes = READ_BUFFER_BYTES,
  ) {
    this.shared = Buffer.allocUnsafeSlow(bufferBytes);
  }

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
