// The router config (ROUTER_CONFIG): routes, providers, failover policy and error rules.
// Keys are snake_case; unknown keys are errors so a typo is reported, not ignored.
import { closest } from "./closest.ts";
import * as z from "zod";
import { DEFAULT_FAILOVER_ON, ERROR_CATEGORIES, KEY_PATTERNS } from "./errors.ts";

const Category = z.enum(ERROR_CATEGORIES);
const PositiveInt = z.number().int().positive();

/** A regular expression given as a string; checked here so a bad one is a config error. */
const Pattern = z.string().refine(
  (source) => {
    try {
      new RegExp(source, "i");
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid regular expression" },
);

export const ErrorRuleSchema = z
  .strictObject({
    status: z.union([PositiveInt, z.array(PositiveInt).min(1)]).optional().describe("HTTP status (or list) to match"),
    code: z.string().optional().describe("upstream error.code to match exactly"),
    type: z.string().optional().describe("upstream error.type to match exactly"),
    message: Pattern.optional().describe("case-insensitive regex matched against the upstream error message"),
    body: Pattern.optional().describe("case-insensitive regex matched against the whole upstream body"),
    category: Category.describe("the category a matching answer gets"),
  })
  .refine((rule) => rule.status ?? rule.code ?? rule.type ?? rule.message ?? rule.body, {
    message: "an error rule needs at least one of status, code, type, message, body",
  });
export type ErrorRule = z.infer<typeof ErrorRuleSchema>;

/** An IANA time zone name, checked against the runtime's zone database. */
const TimeZone = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { message: "not an IANA time zone (e.g. America/Los_Angeles)" },
);

/** What a provider (and so a route) serves: chat completions or embeddings. */
export const ENDPOINTS = ["chat", "embeddings"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export const PROVIDER_TYPES = ["openai_compatible", "local_gguf", "anthropic"] as const;

/** Default whole-call timeout: cloud providers answer fast or not at all; a local model is slow. */
export const DEFAULT_TIMEOUT_MS = { openai_compatible: 30_000, local_gguf: 120_000, anthropic: 30_000 } as const;

/** Streams: the wait for the first content, reasoning or tool-call delta (a CPU model reads the prompt first). */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = { openai_compatible: 10_000, local_gguf: 120_000, anthropic: 10_000 } as const;
/** Streams: the longest silence between events once the answer has begun. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = { openai_compatible: 10_000, local_gguf: 30_000, anthropic: 10_000 } as const;

/** `type = "anthropic"`: the Messages API version sent when the provider names none. */
export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01";
/** `type = "anthropic"`: the answer length asked for when neither the request nor max_output_tokens sets one (Messages requires max_tokens). */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

/** Circuit breaker, retry and request-hygiene defaults (README "Provider health"). */
export const PROVIDER_DEFAULTS = {
  breaker_failures: 2,
  breaker_cooldown_ms: 10_000,
  breaker_max_cooldown_ms: 300_000,
  retries: 1,
  retry_backoff_ms: 250,
  max_retry_wait_ms: 3_000,
} as const;

/** What a provider can do (the `capabilities` key). `prefill`: it continues a trailing assistant message. */
export const CAPABILITIES = ["tools", "vision", "json_schema", "prefill"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Body fields that steer the operator's upstream account (OpenRouter routing and billing): never sent as the client wrote them. */
export const DROPPED_FIELDS = ["models", "route", "provider", "plugins", "transforms", "preset", "service_tier"] as const;

/** An HTTP header name (RFC 9110 token). */
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "not a valid HTTP header name" });
/** Header names that carry a key: a key belongs in a secret (api_key_secret + api_key_header), never in plain `headers`. */
const KEY_HEADERS = new Set(["authorization", "api-key", "x-api-key", "x-goog-api-key"]);
const NonNegativeInt = z.number().int().nonnegative();

/** Headers the edge sets itself: a key sent in one of them would be overwritten or break the call. */
const EDGE_HEADERS = new Set(["content-type", "accept", "content-length", "host", "x-request-id", "cf-access-client-id", "cf-access-client-secret"]);

/**
 * Cross-field checks of one provider. It may run on a provider with other errors (see `when`
 * below), so it reads every field defensively.
 */
function checkProvider(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (value.type !== "local_gguf") {
    for (const key of ["access_client_id_secret", "access_client_secret_secret"]) {
      if (value[key] !== undefined) issue([key], `${key} is only for type = "local_gguf" (Cloudflare Access in front of the sidecar)`);
    }
  }
  if (value.type !== "anthropic") {
    for (const key of ["anthropic_version", "anthropic_beta"]) {
      if (value[key] !== undefined) issue([key], `${key} is only for type = "anthropic"`);
    }
  } else if (value.endpoint === "embeddings") {
    issue(["endpoint"], 'type = "anthropic" serves chat only: the Messages API has no embeddings');
  }
  const keyHeader = typeof value.api_key_header === "string" ? value.api_key_header.toLowerCase() : undefined;
  if (keyHeader && EDGE_HEADERS.has(keyHeader)) issue(["api_key_header"], `${keyHeader} is set by the edge: name another header for the key`);
  const headers = typeof value.headers === "object" && value.headers !== null ? (value.headers as Record<string, unknown>) : {};
  for (const [name, headerValue] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const looksLikeKey = typeof headerValue === "string" && KEY_PATTERNS.some((pattern) => new RegExp(pattern.source).test(headerValue));
    if (KEY_HEADERS.has(lower) || lower === keyHeader || looksLikeKey) {
      issue(["headers", name], "keys do not go in headers: name the secret in api_key_secret (and the header in api_key_header)");
    }
  }
  for (const table of ["body_defaults", "body_overrides"]) {
    const fields = value[table];
    if (typeof fields !== "object" || fields === null) continue;
    for (const field of ["model", "messages", "stream"]) {
      if (Object.hasOwn(fields, field)) issue([table, field], `${field} is set by the edge and the client, not by ${table}`);
    }
  }
}

const UsdPerMtok = z.number().nonnegative();
const UsdBudget = z.number().positive();

/** What an admission does when its quota tracker cannot answer (throws, times out, is reset). */
export const TRACKER_ERROR_POLICIES = ["admit", "deny"] as const;
export type TrackerErrorPolicy = (typeof TRACKER_ERROR_POLICIES)[number];
const TrackerErrorPolicySchema = z.enum(TRACKER_ERROR_POLICIES);

/** Durable Object location hints: where a tracker is created (it stays there). */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
const LocationHint = z.enum(LOCATION_HINTS);
/** USD per million tokens; a price that is absent is unknown (never taken as 0). */
export const PriceSchema = z.strictObject({
  input_per_mtok: UsdPerMtok.describe("USD per million prompt tokens (0 for a free tier)"),
  output_per_mtok: UsdPerMtok.describe("USD per million completion tokens (0 for a free tier)"),
  cached_input_per_mtok: UsdPerMtok.optional().describe("USD per million cached prompt tokens (default input_per_mtok)"),
  cache_write_per_mtok: UsdPerMtok.optional().describe("USD per million prompt tokens written to the provider's cache (default input_per_mtok; Anthropic charges 1.25x input for 5-minute writes)"),
});
export type Price = z.infer<typeof PriceSchema>;

export const ProviderSchema = z.strictObject({
  type: z.enum(PROVIDER_TYPES).describe("openai_compatible (any OpenAI-compatible API), local_gguf (the InferRouter sidecar) or anthropic (an Anthropic Messages API); required"),
  base_url: z
    .url({ protocol: /^https?$/ })
    .refine((url) => !/[?#]/.test(url), { message: "base_url may not have a query or a fragment: the edge appends /chat/completions" })
    // A copy-paste of the endpoint's full URL: the router appends the path itself.
    .superRefine((url, ctx) => {
      const path = /\/(chat\/completions|embeddings|responses|messages)\/?$/.exec(url)?.[0];
      if (path) ctx.addIssue({ code: "custom", message: `base_url ends in ${path}: cut it (use ${url.slice(0, -path.length)}); the router appends /chat/completions, /embeddings or /messages itself` });
    })
    .describe("OpenAI-compatible base URL, e.g. https://api.groq.com/openai/v1 (anthropic: the Messages API's, e.g. https://api.anthropic.com/v1; the edge appends /messages)"),
  model: z.string().min(1).describe("the provider's own model name sent upstream"),
  api_key_secret: z.string().min(1).optional().describe("name of the Worker secret / env var holding the key"),
  access_client_id_secret: z.string().min(1).optional().describe("local_gguf: secret holding CF-Access-Client-Id"),
  access_client_secret_secret: z.string().min(1).optional().describe("local_gguf: secret holding CF-Access-Client-Secret"),
  api_key_header: HeaderName.optional().describe('header that carries the key (default authorization as "Bearer <key>", anthropic x-api-key; any other name gets the raw key, e.g. api-key)'),
  anthropic_version: z.string().min(1).optional().describe(`anthropic: the anthropic-version header (default ${DEFAULT_ANTHROPIC_VERSION})`),
  anthropic_beta: z.union([z.string().min(1), z.array(z.string().min(1))]).optional().describe("anthropic: the anthropic-beta header, one flag or a list (default none)"),
  headers: z.record(HeaderName, z.string()).optional().describe("extra request headers (e.g. OpenRouter's HTTP-Referer); never a key"),
  timeout_ms: PositiveInt.optional().describe("whole call for JSON answers (default 30000; local_gguf 120000)"),
  first_token_timeout_ms: PositiveInt.optional().describe("streams: wait for the first content, reasoning or tool-call delta, then fail over (default 10000; local_gguf 120000)"),
  stream_idle_timeout_ms: PositiveInt.optional().describe("streams: longest silence between events once the answer has begun (default 10000; local_gguf 30000)"),
  requests_per_day: PositiveInt.optional().describe("requests a day, restarting at midnight of daily_reset_tz (default none: unlimited)"),
  requests_per_minute: PositiveInt.optional().describe("requests in any sliding 60 seconds (default none: unlimited)"),
  tokens_per_day: PositiveInt.optional().describe("tokens a day: each call reserves its estimate, settled to the answer's usage (default none: unlimited)"),
  tokens_per_minute: PositiveInt.optional().describe("tokens in any sliding 60 seconds: reserved before each call, settled to the usage (default none: unlimited)"),
  budget_usd_per_day: UsdBudget.optional().describe("USD the provider may cost a day (needs price); spent: skipped as budget until daily_reset_tz's midnight (default none)"),
  budget_usd_per_month: UsdBudget.optional().describe("USD the provider may cost a month (needs price); spent: skipped as budget until the 1st (default none)"),
  daily_reset_tz: TimeZone.optional().describe("zone whose midnight restarts the daily counts (default UTC)"),
  on_tracker_error: TrackerErrorPolicySchema.optional().describe('when its quota tracker cannot answer: "admit" (call it anyway) or "deny" (skip it) (default: the config\'s on_tracker_error)'),
  location_hint: LocationHint.optional().describe("where its own quota tracker is created: next to the Worker's traffic (default: the config's location_hint)"),
  rate_limit_cooldown_ms: PositiveInt.optional().describe("cool-down after a 429 without retry-after (default 60000)"),
  auth_error_cooldown_ms: PositiveInt.optional().describe("cool-down after an auth or billing error (default 300000)"),
  error_rules: z.array(ErrorRuleSchema).default([]).describe("this provider's error rules, applied before the global ones (default [])"),
  endpoint: z.enum(ENDPOINTS).optional().describe('what the provider serves (default "chat"): "chat" ({base_url}/chat/completions) or "embeddings" ({base_url}/embeddings)'),
  embedding_space: z.string().min(1).optional().describe('embeddings: the model and size its vectors live in (e.g. "nomic-embed-text-v1.5@768"); one space per route'),
  capabilities: z
    .array(z.enum(CAPABILITIES))
    .optional()
    .describe("what the provider can do; absent: tools, vision, json_schema (local_gguf: and prefill, anthropic: tools, vision and prefill, no prefill for Claude 4.6 and later); present: exactly these"),
  breaker_failures: PositiveInt.optional().describe("consecutive Timeout/NetworkError/ServerError failures that open the circuit (default 2)"),
  breaker_cooldown_ms: PositiveInt.optional().describe("how long an open circuit skips the provider before one trial (default 10000)"),
  breaker_max_cooldown_ms: PositiveInt.optional().describe("cap of the cool-down that doubles after each timed-out trial (default 300000)"),
  retries: NonNegativeInt.optional().describe("retries on the same provider after a 500/502/503 or a network error, before failover (default 1)"),
  retry_backoff_ms: NonNegativeInt.optional().describe("first retry's backoff, doubled each retry, jittered (default 250)"),
  max_retry_wait_ms: NonNegativeInt.optional().describe("a 429 whose retry-after is at most this is waited out and retried once (default 3000)"),
  context_window: PositiveInt.optional().describe("tokens the model takes, prompt and answer together (local_gguf: the prompt alone, since the sidecar shortens the answer to the room left); a request estimated over it skips the provider"),
  max_output_tokens: PositiveInt.optional().describe("the longest answer the model writes: a larger max_tokens / max_completion_tokens is capped to it (in the context check and in what is sent), and it is assumed when the request sets none"),
  price: PriceSchema.optional().describe("what the provider charges; absent = unknown, shown as unknown, never as 0"),
  weight: z.number().positive().optional().describe("share of first picks under strategy = \"weighted\" (default requests_per_day, else 1)"),
  quota_group: z.string().min(1).optional().describe("name of a quota_groups entry whose tracker and limits this provider shares (then it sets no limits of its own)"),
  allow_fields: z.array(z.string().min(1)).optional().describe("dropped body fields this provider may receive from clients"),
  body_defaults: z.record(z.string(), z.unknown()).optional().describe("body fields added when the client did not send them"),
  body_overrides: z.record(z.string(), z.unknown()).optional().describe("body fields always set by the operator (e.g. a max_tokens cap)"),
}).superRefine(checkProvider, {
  // Run on every provider, even one with other errors, so check-config names every bad path at once.
  when: (payload) => typeof payload.value === "object" && payload.value !== null,
});
export type ProviderConfig = z.infer<typeof ProviderSchema>;

/** A provider's capabilities: exactly its list when given, else the defaults for its type. */
export function capabilitiesOf(provider: ProviderConfig): ReadonlySet<Capability> {
  if (provider.capabilities) return new Set(provider.capabilities);
  // Messages has no response_format (json_schema is not translated); it continues a trailing
  // assistant turn, except on the models whose docs say they reject one.
  if (provider.type === "anthropic") return new Set<Capability>(rejectsPrefill(provider.model) ? ["tools", "vision"] : ["tools", "vision", "prefill"]);
  return new Set<Capability>(provider.type === "local_gguf" ? ["tools", "vision", "json_schema", "prefill"] : ["tools", "vision", "json_schema"]);
}

/**
 * Claude 4.6 and later reject a trailing assistant message (prefill). The version is the first
 * number after `claude-` (a family name may sit between) and a one- or two-digit minor after it;
 * an 8-digit date is not a minor: claude-sonnet-4-20250514 is 4.0, claude-opus-4-6 is 4.6.
 */
export function rejectsPrefill(model: string): boolean {
  const version = /claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2}))?(?!\d)/i.exec(model);
  if (!version) return false;
  const major = Number(version[1]);
  const minor = Number(version[2] ?? 0);
  return major > 4 || (major === 4 && minor >= 6);
}

/** The limit keys a provider, a quota group or a client sets; a provider in a group sets none of them. */
export const LIMIT_KEYS = ["requests_per_day", "requests_per_minute", "tokens_per_day", "tokens_per_minute", "budget_usd_per_day", "budget_usd_per_month", "daily_reset_tz"] as const;

export const STRATEGIES = ["ordered", "weighted", "least_used", "cheapest"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** frames: every frame read in JS (all of a stream's guarantees); native: the runtime feeds the client, a tap reads in batches. */
export const STREAM_RELAYS = ["frames", "native"] as const;
export type StreamRelay = (typeof STREAM_RELAYS)[number];

const ProviderList = z.array(z.string().min(1)).min(1);
/** A route: a list of provider ids (walked in order), or a table with a strategy. */
export const RouteSchema = z.union(
  [
    ProviderList,
    z.strictObject({
      providers: ProviderList.describe("provider ids of the route; local_gguf ones always come last; required"),
      strategy: z.enum(STRATEGIES).default("ordered").describe("ordered: as listed; weighted: first pick by weight; least_used: lowest share of the daily limit first; cheapest: lowest estimated cost of the request first (unknown prices last)"),
      stream_relay: z.enum(STREAM_RELAYS).optional().describe("how this route's streams are relayed (default: the global stream_relay)"),
      restart_on_break: z.boolean().optional().describe("re-ask a provider without prefill when a stream breaks (default: the global restart_on_break)"),
    }),
  ],
  { error: 'a route is a list of provider ids, or a table { providers = [...], strategy = "ordered" | "weighted" | "least_used" | "cheapest", stream_relay = "frames" | "native", restart_on_break = true | false }' },
);
export type RouteConfig = z.infer<typeof RouteSchema>;

/** A route's provider ids and strategy, whichever form it was written in. */
export function routeParts(route: RouteConfig): { providers: readonly string[]; strategy: Strategy; stream_relay?: StreamRelay; restart_on_break?: boolean } {
  return Array.isArray(route) ? { providers: route, strategy: "ordered" } : route;
}

/** Providers that count against one upstream account's allowance (OpenRouter's :free models). */
export const QuotaGroupSchema = z.strictObject({
  requests_per_day: PositiveInt.optional().describe("requests a day across the group's providers (default none: unlimited)"),
  requests_per_minute: PositiveInt.optional().describe("requests in any sliding 60 seconds across the group (default none: unlimited)"),
  tokens_per_day: PositiveInt.optional().describe("tokens a day across the group, reserved before each call, settled to the usage (default none: unlimited)"),
  tokens_per_minute: PositiveInt.optional().describe("tokens in any sliding 60 seconds across the group (default none: unlimited)"),
  budget_usd_per_day: UsdBudget.optional().describe("USD the group's providers may cost a day together (default none)"),
  budget_usd_per_month: UsdBudget.optional().describe("USD the group's providers may cost a month together (default none)"),
  daily_reset_tz: TimeZone.optional().describe("zone whose midnight restarts the group's daily counts (default UTC)"),
});
export type QuotaGroupConfig = z.infer<typeof QuotaGroupSchema>;

/** A client app with its own key(s), routes and limits. */
export const ClientSchema = z.strictObject({
  key_secret: z.string().min(1).describe("name of the secret holding the client's key (comma-separated to rotate)"),
  routes: z.array(z.string().min(1)).optional().describe("routes (models) the client may use; absent: all"),
  requests_per_day: PositiveInt.optional().describe("the client's requests a day, UTC; beyond: 429 client_rate_limited (default none: unlimited)"),
  requests_per_minute: PositiveInt.optional().describe("the client's requests in any sliding 60 seconds (default none: unlimited)"),
  tokens_per_day: PositiveInt.optional().describe("the client's tokens a day, reserved before each call, settled to the usage (default none: unlimited)"),
  tokens_per_minute: PositiveInt.optional().describe("tokens the client may use in any 60 s, reserved before each call (default none)"),
  budget_usd_per_day: UsdBudget.optional().describe("USD the client may cost a day (UTC); spent: 429 budget_exceeded until midnight (default none)"),
  budget_usd_per_month: UsdBudget.optional().describe("USD the client may cost a month (UTC); spent: 429 budget_exceeded until the 1st (default none)"),
});
export type ClientConfig = z.infer<typeof ClientSchema>;

export const RouterConfigSchema = z
  .strictObject({
    $schema: z.string().optional().describe("editor hint only, ignored by the router: path or URL of config.schema.json (JSON configs)"),
    auth: z.enum(["keys", "none"]).default("keys").describe('"none" disables client auth (local development only)'),
    default_route: z.string().optional().describe("route used when a request names an unknown model"),
    model_aliases: z
      .record(z.string().min(1), z.string().min(1))
      .default({})
      .describe('model name -> route, checked after the route names; `*` matches any run of characters ("claude-sonnet-*" = "coding"); the first match in order wins (default {})'),
    failover_on: z.array(Category).default([...DEFAULT_FAILOVER_ON]).describe("error categories that move on to the next provider (default every category but BadRequest and ContentFiltered)"),
    error_rules: z.array(ErrorRuleSchema).default([]).describe("global error rules, applied after each provider's own (default [])"),
    max_body_bytes: PositiveInt.default(4 * 1024 * 1024).describe("larger request bodies get 413 (default 4194304, 4 MiB)"),
    request_timeout_ms: PositiveInt.default(120_000).describe("bounds the whole chain walk until a stream commits or a JSON answer arrives: then 504"),
    max_attempts: PositiveInt.default(8).describe("upstream calls per request, retries included"),
    stream_relay: z.enum(STREAM_RELAYS).default("frames").describe('how streams are relayed once the answer began: "frames" (default) reads every frame in JS, "native" lets the runtime feed the client (docs/streams.md)'),
    messages_ping_ms: PositiveInt.default(10_000).describe("/v1/messages streams: after this long without a first token the 200 and message_start go out and a ping follows every as long; the chain's failure then ends the stream with an error event (default 10000)"),
    restart_on_break: z.boolean().default(false).describe("a stream broken mid-answer with no prefill provider left is re-asked without the prefill; only what follows the client's text is sent (default false)"),
    drop_fields: z.array(z.string().min(1)).default([]).describe("body fields dropped before the upstream call, on top of the built-in list"),
    routes: z.record(z.string().min(1), RouteSchema).describe("route name (what clients send as model) -> providers; required"),
    providers: z.record(z.string().min(1), ProviderSchema).describe("provider id -> how to call it; required"),
    cors_origins: z.array(z.string().min(1)).default([]).describe('browser origins allowed to call the API with a client key ("*": any, check-config warns)'),
    quota_groups: z.record(z.string().min(1), QuotaGroupSchema).default({}).describe("shared allowances; providers join one with quota_group"),
    clients: z.record(z.string().min(1), ClientSchema).default({}).describe("client apps with their own keys, routes and limits (PROXY_API_KEYS stay unlimited)"),
    usage_retention_days: PositiveInt.default(90).describe("days of hourly usage history kept for /v1/usage, /metrics and the status page (default 90)"),
    on_tracker_error: TrackerErrorPolicySchema.default("admit").describe('when a quota tracker cannot answer: "admit" the request (default) or "deny" it (a paid quota that must never be passed)'),
    location_hint: LocationHint.optional().describe("where quota trackers are created (Durable Object locationHint): the region most traffic comes from (default: where the first request came from)"),
  })
  .superRefine((config, ctx) => {
    for (const [route, value] of Object.entries(config.routes)) {
      const base = Array.isArray(value) ? ["routes", route] : ["routes", route, "providers"];
      routeParts(value).providers.forEach((providerId, index) => {
        if (!Object.hasOwn(config.providers, providerId)) {
          ctx.addIssue({
            code: "custom",
            path: [...base, index],
            message: `unknown provider "${providerId}"${didYouMean(providerId, Object.keys(config.providers))}`,
          });
        }
      });
    }
    checkEndpoints(config, ctx);
    checkSecretNames(config, ctx);
    for (const [id, provider] of Object.entries(config.providers)) {
      const group = provider.quota_group;
      if (group === undefined) continue;
      if (!Object.hasOwn(config.quota_groups, group)) {
        ctx.addIssue({ code: "custom", path: ["providers", id, "quota_group"], message: `no quota group named "${group}" in quota_groups` });
      }
      for (const key of LIMIT_KEYS) {
        if (provider[key] !== undefined) {
          ctx.addIssue({ code: "custom", path: ["providers", id, key], message: `a provider in quota group "${group}" takes the group's limits: set ${key} on quota_groups.${group}` });
        }
      }
    }
    for (const [id, provider] of Object.entries(config.providers)) {
      for (const key of ["budget_usd_per_day", "budget_usd_per_month"] as const) {
        if (provider[key] !== undefined && !provider.price) {
          ctx.addIssue({ code: "custom", path: ["providers", id, key], message: `${key} needs the provider's price: without it, its cost is unknown` });
        }
      }
    }
    for (const [name, client] of Object.entries(config.clients)) {
      client.routes?.forEach((route, index) => {
        if (!Object.hasOwn(config.routes, route)) ctx.addIssue({ code: "custom", path: ["clients", name, "routes", index], message: `no route named "${route}"` });
      });
    }
    for (const [alias, route] of Object.entries(config.model_aliases)) {
      if (!Object.hasOwn(config.routes, route)) ctx.addIssue({ code: "custom", path: ["model_aliases", alias], message: `no route named "${route}"` });
    }
    if (config.default_route !== undefined && !Object.hasOwn(config.routes, config.default_route)) {
      ctx.addIssue({ code: "custom", path: ["default_route"], message: `no route named "${config.default_route}"` });
    }
  });
export type RouterConfig = z.infer<typeof RouterConfigSchema>;

/**
 * A route serves one endpoint, and an embeddings route one embedding space: vectors from another
 * model are not comparable, so failover may move only between hosts of the same one.
 */
function checkEndpoints(config: Pick<RouterConfig, "providers" | "routes">, ctx: z.core.$RefinementCtx<unknown>) {
  for (const [id, provider] of Object.entries(config.providers)) {
    if (providerEndpoint(provider) === "embeddings" && !provider.embedding_space) {
      ctx.addIssue({ code: "custom", path: ["providers", id, "embedding_space"], message: 'an endpoint = "embeddings" provider must declare embedding_space (e.g. "nomic-embed-text-v1.5@768")' });
    }
    if (providerEndpoint(provider) === "chat" && provider.embedding_space !== undefined) {
      ctx.addIssue({ code: "custom", path: ["providers", id, "embedding_space"], message: 'embedding_space is for endpoint = "embeddings" providers' });
    }
  }
  for (const [route, value] of Object.entries(config.routes)) {
    const base = Array.isArray(value) ? ["routes", route] : ["routes", route, "providers"];
    const known = routeParts(value).providers.flatMap((id, index) => (Object.hasOwn(config.providers, id) ? [{ id, index, provider: config.providers[id]! }] : []));
    const [first, ...rest] = known;
    if (!first) continue;
    for (const { id, index, provider } of rest) {
      if (providerEndpoint(provider) !== providerEndpoint(first.provider)) {
        ctx.addIssue({ code: "custom", path: [...base, index], message: `"${id}" serves ${providerEndpoint(provider)} but "${first.id}" serves ${providerEndpoint(first.provider)}: a route serves one endpoint` });
      } else if (provider.embedding_space !== first.provider.embedding_space) {
        ctx.addIssue({
          code: "custom",
          path: [...base, index],
          message: `"${id}" has embedding_space "${provider.embedding_space}" but "${first.id}" has "${first.provider.embedding_space}": failing over between embedding models would mix vectors that are not comparable`,
        });
      }
    }
  }
}

/** A secret name is one plain file name (self-hosted, a file in the secrets dir): the rule of edge/env.ts. */
export const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Names the edge itself holds: the client and admin keys, and its bindings. Never a provider's or a client's secret. */
export const RESERVED_SECRET_NAMES: ReadonlySet<string> = new Set(["PROXY_API_KEYS", "ADMIN_API_KEYS", "QUOTA", "USAGE", "USAGE_FLUSH_MS", "USAGE_FLUSH_TOKEN", "METRICS_TOKEN", "SECRETS_DIR", "LOGS_DIR", "ROUTER_CONFIG"]);
const PROVIDER_SECRET_KEYS = ["api_key_secret", "access_client_id_secret", "access_client_secret_secret"] as const;

/**
 * Every *_secret names a plain file name, none names the edge's own keys or bindings (a provider
 * given ADMIN_API_KEYS would send the admin key upstream), and a client's key secret is no
 * provider's secret (a client key would be an upstream key, or the other way round).
 */
function checkSecretNames(config: Pick<RouterConfig, "providers" | "clients">, ctx: z.core.$RefinementCtx<unknown>) {
  const providerSecrets = new Set<string>();
  const check = (path: PropertyKey[], name: string) => {
    if (!SECRET_NAME.test(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" is not a plain secret name (letters, digits, _ . -, not starting with . or -; no path)` });
    else if (RESERVED_SECRET_NAMES.has(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" is the edge's own (client keys, admin keys or a binding): name a secret of its own` });
  };
  for (const [id, provider] of Object.entries(config.providers)) {
    for (const key of PROVIDER_SECRET_KEYS) {
      const name = provider[key];
      if (name === undefined) continue;
      check(["providers", id, key], name);
      providerSecrets.add(name);
    }
  }
  for (const [client, { key_secret }] of Object.entries(config.clients)) {
    check(["clients", client, "key_secret"], key_secret);
    if (providerSecrets.has(key_secret)) ctx.addIssue({ code: "custom", path: ["clients", client, "key_secret"], message: `"${key_secret}" is also a provider's secret: a client key must not be an upstream key` });
  }
}

/** The endpoint a (validated, homogeneous) route serves. */
export function routeEndpoint(config: RouterConfig, chain: readonly string[]): Endpoint {
  const first = config.providers[chain[0]!];
  return first ? providerEndpoint(first) : "chat";
}

export const providerEndpoint = (provider: ProviderConfig): Endpoint => provider.endpoint ?? "chat";

/** Parses ROUTER_CONFIG as the Worker receives it: a table (object) or a JSON string. */
function didYouMean(name: string, names: string[]): string {
  const near = closest(name, names);
  return near ? ` (did you mean "${near}"?)` : names.length ? ` (providers: ${names.join(", ")})` : " (no providers are defined)";
}

export function parseRouterConfig(raw: unknown): { ok: true; config: RouterConfig } | { ok: false; message: string } {
  let value = raw;
  if (raw === undefined || raw === null || raw === "") {
    return { ok: false, message: "ROUTER_CONFIG is not set: add [vars.ROUTER_CONFIG] to wrangler.toml" };
  }
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      return { ok: false, message: `ROUTER_CONFIG is not valid JSON: ${(error as Error).message}` };
    }
  }
  const result = RouterConfigSchema.safeParse(value);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, message: `Invalid ROUTER_CONFIG:\n${z.prettifyError(result.error)}` };
}
