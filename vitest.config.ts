import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, defineProject } from "vitest/config";

// One `vitest run` runs every project: the Worker inside workerd, the sidecar and the
// end-to-end tests on Node. Fake providers are real HTTP servers started in globalSetup.
export default defineConfig({
  test: {
    projects: [
      defineProject({
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // USAGE_FLUSH_MS 0: history is written right after each request, so waiting on a request's
              // background work (harness.ts) does not wait out the 2 s batch interval.
              bindings: { PROXY_API_KEYS: "sk-test-client-1,sk-test-client-2", ADMIN_API_KEYS: "sk-test-admin", USAGE_FLUSH_MS: "0" },
            },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          globalSetup: ["test/support/fake-provider-setup.ts"],
          testTimeout: 20_000,
        },
      }),
      defineProject({
        test: {
          name: "sidecar",
          include: ["test/sidecar/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      }),
      defineProject({
        test: { name: "scripts", include: ["test/scripts/**/*.test.ts"], environment: "node" },
      }),
      defineProject({
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      }),
      defineProject({
        // The status page in Debian's chromium (playwright-core), against wrangler dev.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      }),
    ],
  },
});
