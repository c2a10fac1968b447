import { describe, expect, it } from "vitest";
import { READ_BUFFER_BYTES, ReadBufferPool } from "../../../dataplane/gateway/readBuffers";

describe("read buffer pool", () => {
  it("lends at most maxLent buffers, then none until one is given back", () => {
    const pool = new ReadBufferPool(2);
    const a = pool.take();
    const b = pool.take();
    expect(a?.length).toBe(READ_BUFFER_BYTES);
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(pool.take()).toBeUndefined();
    expect(pool.lentCount).toBe(2);
    pool.give(a as Buffer);
    expect(pool.lentCount).toBe(1);
    // A returned buffer is reused rather than allocated again.
    expect(pool.take()).toBe(a);
    expect(pool.take()).toBeUndefined();
  });
});
