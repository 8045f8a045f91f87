// Bench only (bench/distance.ts), never deployed: the QuotaTracker as an edge isolate far from it
// sees it. The edges' QUOTA namespace is DistantQuotaTracker, a stateless stand-in for the network
// between them and the tracker: each call waits TRACKER_DELAY_MS / 2 (the way there), is handed to
// the real QuotaTracker of the same name (its own namespace, TRACKER, unchanged), and its answer
// waits TRACKER_DELAY_MS / 2 more (the way back). The waits are outside the real tracker, so its
// storage and gates see no timers: it answers each call as it would locally, in one step.
// TRACKER_LEASES = "off" stands for the tracker before leases (f68f8eb): every admit asks for the
// request's own admission alone, so every request with limits waits for its call.
import { DurableObject } from "cloudflare:workers";
import { QuotaTracker } from "../edge/quota/tracker.ts";

export { QuotaTracker };
export { UsageStore } from "../edge/usage/store.ts";

/** The tracker's RPC methods (the edge calls these; a renamed one fails the typecheck here). */
const METHODS = [
  "admit",
  "giveBack",
  "settle",
  "recordTokens",
  "coolDown",
  "circuitFailure",
  "showCircuit",
  "circuitSuccess",
  "snapshot",
  "memberSnapshot",
] as const satisfies ReadonlyArray<keyof QuotaTracker>;

interface BenchEnv {
  TRACKER: DurableObjectNamespace<QuotaTracker>;
  TRACKER_DELAY_MS?: string;
  TRACKER_LEASES?: string;
  /** Logs each admit that granted something at limits with this requests_per_minute (the exactness provider). */
  TRACKER_LOG_RPM?: string;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

export class DistantQuotaTracker extends DurableObject<BenchEnv> {
  /** The real tracker this one stands in front of: one per name (this object's id names it). */
  private real(): DurableObjectStub<QuotaTracker> {
    return this.env.TRACKER.get(this.env.TRACKER.idFromName(this.ctx.id.toString()));
  }

  async forward(name: (typeof METHODS)[number], args: unknown[]): Promise<unknown> {
    const env = this.env;
    const delay = Number(env.TRACKER_DELAY_MS ?? 0);
    if (name === "admit" && env.TRACKER_LEASES === "off") {
      // admit(limits, trialLeaseMs, member, ask, returns): the asking request's admission only, no spare ones.
      const ask = args[3] as { requests: number } | undefined;
      if (ask) args[3] = { ...ask, requests: 1 };
    }
    await sleep(delay / 2);
    const stub = this.real() as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const result = await stub[name]!(...args);
    // The exactness runs read the tracker's own clock: when it granted what (the limits name the provider).
    if (name === "admit" && env.TRACKER_LOG_RPM && (args[0] as { requests_per_minute?: number }).requests_per_minute === Number(env.TRACKER_LOG_RPM)) {
      const admission = result as { admitted: boolean; at?: number; lease?: { requests: number; until: number } };
      const renewal = Boolean((args[3] as { renewal?: boolean } | undefined)?.renewal);
      if (admission.admitted) console.log(JSON.stringify({ distance_grant: { at: admission.at, own: renewal ? 0 : 1, leased: admission.lease?.requests ?? 0, until: admission.lease?.until } }));
    }
    await sleep(delay / 2);
    return result;
  }
}

// Each of the tracker's methods on the stand-in, forwarded (the edge's stub calls them by name).
const prototype = DistantQuotaTracker.prototype as unknown as Record<string, unknown>;
for (const name of METHODS) {
  prototype[name] = function (this: DistantQuotaTracker, ...args: unknown[]) {
    return this.forward(name, args);
  };
}

export default { fetch: () => new Response("the distance bench's tracker service", { status: 404 }) };
