// The test env (`env` from cloudflare:workers) is the Worker's Env: bindings from wrangler.toml.
type WorkerEnv = import("../../edge/env.ts").Env;
declare namespace Cloudflare {
  interface Env extends WorkerEnv {}
}
