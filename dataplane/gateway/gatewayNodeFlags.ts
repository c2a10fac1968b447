/**
 * How the gateway's Node process is started: in the image (docker-entrypoint.sh, checked by a
 * test to match) and in the benchmark. Each setting was measured with `npm run bench` and the
 * alternating-pair harness (issue 5); neither changed the CPU per connection measurably.
 *
 * - `--max-semi-space-size=1` caps V8's young generation at 1 MiB per semi-space (Node 20 and
 *   24 grow it to 16 MiB or more by default). The gateway's garbage is short-lived per-connection objects: with the
 *   default the grown young generation stayed after a load phase (idle RSS +25–50 MB); with
 *   1 MiB it stays within a few MB of the start, and scavenges are shorter (lower p99).
 * - `MALLOC_ARENA_MAX=1`: one glibc malloc arena instead of one per thread that ever allocated
 *   (V8's GC threads free what the main thread allocated): 1.5–2 MB less after load. The
 *   gateway's own allocations are few and small since reads go to a shared buffer
 *   (readBuffers.ts).
 *
 * Tried and left out: `--optimize-for-size` saved another 2 MB but tripled the p99 latency at
 * 1,000 connections/s (more frequent old-generation collections); `--single-threaded-gc` saved
 * nothing measurable.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/** Environment the gateway's process gets on top of its own. */
export const GATEWAY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };
