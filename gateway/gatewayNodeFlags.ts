/**
 * Node flags the gateway runs with: in the image (docker-entrypoint.sh, checked by a test to
 * match) and in the benchmark.
 *
 * `--max-semi-space-size=1` caps V8's young generation at 1 MiB per semi-space (Node 20's
 * default grows it to 16 MiB). The gateway's garbage is short-lived per-connection objects: with
 * the default, after a load phase the young generation stays grown and the idle RSS rose by
 * 25–50 MB; with 1 MiB it stays within a few MB of the start, scavenges are shorter (fewer
 * survivors to copy, so a lower p99 at 1,000 connections/s) and the CPU per connection did not
 * change measurably (`npm run bench`, issue 5).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];
