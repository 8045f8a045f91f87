// The soak's world: which providers misbehave how, the router config that puts them behind
// limits, a quota group and a metered client, and the keys. Shares are per call (0..1).
import type { Step } from "../../test/support/fake-provider-protocol.ts";
import { ANSWER, faultMix, type Behaviour, type Call } from "./providers.ts";

export const KEYS = { client: "sk-soak-client", metered: "sk-soak-metered", admin: "sk-soak-admin", upstream: "sk-soak-upstream" };

const error = (status: number, message: string, headers: Record<string, string> = {}): Step => ({ type: "json", status, headers, body: { error: { message, type: "soak", code: null } } });
const chatOnly = (step: Step) => (call: Call) => (call.embeddings ? undefined : step);
const streamOnly = (step: Step) => (call: Call) => (call.stream ? step : undefined);
const jsonOnly = (step: Step) => (call: Call) => (call.stream ? undefined : step);
const any = (step: Step) => () => step;

/** Down for 4 s of every 12 s: half of its calls then fail with a 500, half with a reset. */
const FLAP_MS = 12_000;
const flapping: Behaviour = (call, random) => {
  if (call.at % FLAP_MS >= 4_000) return { name: "ok" };
  return random() < 0.5 ? { name: "outage 500", step: error(500, "flapping: down") } : { name: "outage reset", step: { type: "reset" } };
};

export const BEHAVIOURS: Record<string, Behaviour> = {
  // Rate limits: short retry-after (waited out), long retry-after (cool-down), none (default cool-down).
  r429: faultMix([
    [0.1, "429 retry-after 1", any(error(429, "slow down", { "retry-after": "1" }))],
    [0.05, "429 retry-after 4", any(error(429, "slow down", { "retry-after": "4" }))],
    [0.1, "429 no retry-after", any(error(429, "slow down"))],
  ]),
  flappy: flapping,
  // Quota group members: hangs, slow first tokens, streams cut mid-answer (reset, or closed without [DONE]).
  "grp-a": faultMix([
    [0.06, "hang", any({ type: "hang" })],
    [0.08, "slow first token", streamOnly({ type: "sse", content: ANSWER, gap_ms: 5, first_delay_ms: 400 })],
    [0.1, "stream cut (reset)", streamOnly({ type: "sse", content: ANSWER, gap_ms: 5, cut_after: 6, end: "reset" })],
    [0.05, "stream cut (close)", streamOnly({ type: "sse", content: ANSWER, gap_ms: 5, cut_after: 6, end: "close" })],
    [0.05, "slow answer", jsonOnly({ type: "json", content: ANSWER, delay_ms: 400 })],
  ]),
  "grp-b": faultMix([
    [0.05, "503", any(error(503, "overloaded"))],
    [0.04, "reset", any({ type: "reset" })],
    [0.04, "reset mid body", jsonOnly({ type: "reset_mid_body" })],
    [0.05, "stream cut (reset)", streamOnly({ type: "sse", content: ANSWER, gap_ms: 5, cut_after: 3, end: "reset" })],
  ]),
  steady: faultMix([[0.02, "slow first token", chatOnly({ type: "sse", content: ANSWER, gap_ms: 5, first_delay_ms: 200 })]]),
  "emb-flaky": faultMix([
    [0.1, "500", any(error(500, "embedder down"))],
    [0.1, "429 no retry-after", any(error(429, "slow down"))],
    [0.04, "hang", any({ type: "hang" })],
    [0.04, "reset", any({ type: "reset" })],
  ]),
  "emb-steady": faultMix([]),
};

/** Every soak provider with limits has a tracker; emb-steady has none (its circuit stays in the isolate). */
export function soakConfig(baseUrl: (id: string) => string) {
  const provider = (id: string, extra: Record<string, unknown> = {}) => ({
    type: "openai_compatible",
    base_url: baseUrl(id),
    model: `model-${id}`,
    api_key_secret: "SOAK_UPSTREAM_KEY",
    timeout_ms: 1_500,
    first_token_timeout_ms: 1_500,
    stream_idle_timeout_ms: 1_500,
    breaker_cooldown_ms: 1_500,
    rate_limit_cooldown_ms: 1_500,
    ...extra,
  });
  const embedder = (id: string, extra: Record<string, unknown> = {}) => provider(id, { endpoint: "embeddings", embedding_space: "soak@4", ...extra });
  return {
    routes: { chat: ["r429", "flappy", "grp-a", "grp-b", "steady"], embed: ["emb-flaky", "emb-steady"] },
    providers: {
      r429: provider("r429", { requests_per_minute: 600, requests_per_day: 10_000_000 }),
      flappy: provider("flappy", { requests_per_day: 10_000_000 }),
      "grp-a": provider("grp-a", { quota_group: "shared" }),
      // grp-b continues a stream grp-a broke (a prefill provider after it).
      "grp-b": provider("grp-b", { quota_group: "shared", capabilities: ["prefill"] }),
      steady: provider("steady", { requests_per_day: 10_000_000 }),
      "emb-flaky": embedder("emb-flaky", { requests_per_minute: 400 }),
      "emb-steady": embedder("emb-steady"),
    },
    quota_groups: { shared: { requests_per_minute: 1_200, requests_per_day: 10_000_000 } },
    clients: { metered: { key_secret: "SOAK_METERED_KEY", requests_per_minute: 1_000, requests_per_day: 10_000_000 } },
  };
}

export const SECRETS = { PROXY_API_KEYS: KEYS.client, ADMIN_API_KEYS: KEYS.admin, SOAK_UPSTREAM_KEY: KEYS.upstream, SOAK_METERED_KEY: KEYS.metered };
