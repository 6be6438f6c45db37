import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["apps/*/test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    // Integration tests share one PostgreSQL and one Redis; each file gets its own database and
    // queue prefix (see @subgate/testing), so files may run in parallel on the machine's two cores.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["packages/testing/src/global-setup.ts"],
  },
});
