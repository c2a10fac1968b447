import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The real-engine tier has its own command (npm run test:cluster, vitest.cluster.config.mts).
    exclude: ["test/cluster/**", "node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Pulumi's mock runtime is process-global state: one test file per worker, files in parallel.
    pool: "forks",
    fileParallelism: true,
  },
});
