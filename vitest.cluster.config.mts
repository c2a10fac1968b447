import { defineConfig } from "vitest/config";

/**
 * The real-engine tier (`npm run test:cluster`): the real `pulumi` CLI against local control
 * planes (testbed/). Slow and needs Go or built tools; `npm test` never runs it.
 */
export default defineConfig({
  test: {
    include: ["test/cluster/**/*.test.ts"],
    globalSetup: ["test/cluster/globalSetup.ts"],
    // Every scenario drives whole `pulumi up`s; the slowest waits for emulated cloud delays.
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
    pool: "forks",
    fileParallelism: true,
    // Two scenarios at a time: each runs the engine, a provider and a Node program on 2 cores.
    maxWorkers: 2,
    sequence: { concurrent: false },
  },
});
