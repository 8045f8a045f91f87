// Worker entry: the Hono app and the Durable Object class wrangler.toml binds.
import { createApp } from "./app.ts";

export { QuotaTracker } from "./quota/tracker.ts";

export default createApp();
