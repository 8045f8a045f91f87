// Bench only (bench/distance.ts), never deployed: the QuotaTracker as an edge isolate far from it
// sees it. Every call answers TRACKER_DELAY_MS later, half before the real method runs and half
// after (a round trip: the request travels there, the answer travels back); the tracker's own
// logic is the real one, unchanged, and still runs as one step (its methods are synchronous), so
// admission stays exact. TRACKER_LEASES = "off" stands for the tracker before leases (f68f8eb):
// every admit grants the asking request alone, so every request with limits waits for its call.
import { QuotaTracker } from "../edge/quota/tracker.ts";

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
  TRACKER_DELAY_MS?: string;
  TRACKER_LEASES?: string;
  /** Logs each admit that granted something at limits with this requests_per_minute (the exactness provider). */
  TRACKER_LOG_RPM?: string;
}

export class DelayedQuotaTracker extends QuotaTracker {}

type Method = (this: QuotaTracker, ...args: unknown[]) => unknown;
const base = QuotaTracker.prototype as unknown as Record<string, Method>;
const delayed = DelayedQuotaTracker.prototype as unknown as Record<string, Method>;
const sleep = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

for (const name of METHODS) {
  const original = base[name]!;
  delayed[name] = async function (this: QuotaTracker, ...args: unknown[]) {
    const env = (this as unknown as { env: BenchEnv }).env;
    const delay = Number(env.TRACKER_DELAY_MS ?? 0);
    if (name === "admit" && env.TRACKER_LEASES === "off") {
      // admit(limits, trialLeaseMs, member, ask, returns): the asking request's admission only, no spare ones.
      const ask = args[3] as { requests: number } | undefined;
      if (ask) args[3] = { ...ask, requests: 1 };
    }
    await sleep(delay / 2);
    const result = original.apply(this, args);
    // The exactness runs read the tracker's own clock: when it granted what (the limits name the provider).
    if (name === "admit" && env.TRACKER_LOG_RPM && (args[0] as { requests_per_minute?: number }).requests_per_minute === Number(env.TRACKER_LOG_RPM)) {
      const admission = result as { admitted: boolean; at?: number; lease?: { requests: number; until: number } };
      const renewal = Boolean((args[3] as { renewal?: boolean } | undefined)?.renewal);
      if (admission.admitted) console.log(JSON.stringify({ distance_grant: { at: admission.at, own: renewal ? 0 : 1, leased: admission.lease?.requests ?? 0, until: admission.lease?.until } }));
    }
    await sleep(delay / 2);
    return result;
  };
}

export default { fetch: () => new Response("the distance bench's tracker service", { status: 404 }) };
