// Worker entry: the Hono app and the Durable Object class wrangler.toml binds.
import { createApp } from "./app.ts";

export { QuotaTracker } from "./quota/tracker.ts";
export { UsageStore } from "./usage/store.ts";

export default createApp();
