/**
 * How the gateway's Node process is started: in the image (docker-entrypoint.sh, checked by a
 * test to match) and in the benchmark. Each setting was measured with `npm run bench` and the
 * alternating-pair harness (issue 5); none changed the CPU per connection measurably.
 *
 * - `--max-semi-space-size=1` caps V8's young generation at 1 MiB per semi-space (Node 20 grows
 *   it to 16 MiB). The gateway's garbage is short-lived per-connection objects: with the
 *   default the grown young generation stayed after a load phase (idle RSS +25–50 MB); with
 *   1 MiB it stays within a few MB of the start, and scavenges are shorter (lower p99).
 * - `--optimize-for-size`: V8's memory-saving mode (smaller heap growth steps, leaner caches):
 *   about 2 MB less at start and after load.
 * - `MALLOC_ARENA_MAX=1`: one glibc malloc arena instead of one per thread that ever allocated
 *   (V8's GC threads free what the main thread allocated): about 2 MB less after load. The
 *   gateway's own allocations are few and small since reads go to a shared buffer
 *   (readBuffers.ts).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--optimize-for-size",
];

/** Environment the gateway's process gets on top of its own. */
export const GATEWAY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };
