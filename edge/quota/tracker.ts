// QuotaTracker: one SQLite-backed Durable Object per provider id.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";

export class QuotaTracker extends DurableObject<Env> {}
