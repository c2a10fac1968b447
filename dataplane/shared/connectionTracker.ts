/**
 * Open connections of a server, so shutdown can stop accepting, wait for them to finish within a
 * grace period, then destroy the rest (the fastify / proxy-chain close path).
 */

/** How long to wait for destroyed connections to report their close. */
const FORCED_CLOSE_BACKSTOP_MS = 1_000;

/** Anything that can be torn down at once. */
export interface Destroyable {
  destroy(): void;
}

/** A set of open connections with a bounded drain. */
export class ConnectionTracker<T extends Destroyable> {
  private readonly open = new Set<T>();
  private waiter: (() => void) | undefined;

  /** Number of open connections. */
  get size(): number {
    return this.open.size;
  }

  /** The open connections (for a periodic sweep; deleting while iterating is safe). */
  values(): IterableIterator<T> {
    return this.open.values();
  }

  add(connection: T): void {
    this.open.add(connection);
  }

  delete(connection: T): void {
    if (this.open.delete(connection) && this.open.size === 0 && this.waiter) this.waiter();
  }

  /**
   * Resolve once every connection is gone; after `graceMs`, destroy those still open and resolve
   * when they have gone too. Call after the server stopped accepting.
   */
  drain(graceMs: number): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const connection of [...this.open]) connection.destroy();
        // destroy() closes asynchronously and `delete` calls the waiter when the last one is
        // gone; the backstop keeps shutdown bounded even if a close event never comes.
        setTimeout(() => this.waiter?.(), FORCED_CLOSE_BACKSTOP_MS).unref();
      }, graceMs);
      timer.unref();
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }
}
