// Body hygiene, for every provider type and wire: a client must not steer the operator's account,
// so fields that choose upstream routing or billing are dropped (DROPPED_FIELDS, plus the config's
// drop_fields) unless the provider's allow_fields lets them through; then the operator's
// body_defaults fill what the client left out, body_overrides set what the operator always
// decides, the model is the provider's, and an answer length over the provider's max_output_tokens
// is capped to it (Claude Code asks for 32000 or more; a provider would refuse it).
import { DROPPED_FIELDS, type ProviderConfig, type RouterConfig } from "../../shared/config.ts";

/** Anthropic's least thinking budget. */
const MIN_THINKING_BUDGET = 1024;

/**
 * Caps the answer length fields at `cap`. When max_tokens is lowered, Anthropic's thinking budget
 * (which must stay below it, and is at least 1024) is lowered with it, or left out without room.
 */
function capAnswerLength(body: Record<string, unknown>, cap: number): void {
  if (typeof body.max_completion_tokens === "number" && body.max_completion_tokens > cap) body.max_completion_tokens = cap;
  if (typeof body.max_tokens !== "number" || body.max_tokens <= cap) return;
  body.max_tokens = cap;
  const thinking = body.thinking as { budget_tokens?: unknown } | undefined;
  if (typeof thinking?.budget_tokens !== "number" || thinking.budget_tokens < cap) return;
  if (cap > MIN_THINKING_BUDGET) body.thinking = { ...thinking, budget_tokens: cap - 1 };
  else delete body.thinking;
}

export function withOperatorFields(config: RouterConfig, provider: ProviderConfig, request: object): Record<string, unknown> {
  const allowed = new Set(provider.allow_fields);
  const body: Record<string, unknown> = { ...request };
  for (const field of [...DROPPED_FIELDS, ...config.drop_fields]) if (!allowed.has(field)) delete body[field];
  for (const [field, value] of Object.entries(provider.body_defaults ?? {})) if (body[field] === undefined) body[field] = value;
  Object.assign(body, provider.body_overrides);
  body.model = provider.model;
  if (provider.max_output_tokens !== undefined) capAnswerLength(body, provider.max_output_tokens);
  return body;
}
