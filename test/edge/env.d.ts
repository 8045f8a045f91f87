// The test env is the Worker's Env (bindings from wrangler.toml plus the test's own secrets).
declare namespace Cloudflare {
  interface Env extends import("../../edge/env.ts").Env {
    TEST_PROVIDER_KEY?: string;
  }
}
