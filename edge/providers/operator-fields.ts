// Body hygiene, for every provider type and wire: a client must not steer the operator's account,
// so fields that choose upstream routing or billing are dropped (DROPPED_FIELDS, plus the config's
// drop_fields) unless the provider's allow_fields lets them through; then the operator's
// body_defaults fill what the client left out, body_overrides set what the operator always
// decides, and the model is the provider's.
import { DROPPED_FIELDS, type ProviderConfig, type RouterConfig } from "../../shared/config.ts";

export function withOperatorFields(config: RouterConfig, provider: ProviderConfig, request: object): Record<string, unknown> {
  const allowed = new Set(provider.allow_fields);
  const body: Record<string, unknown> = { ...request };
  for (const field of [...DROPPED_FIELDS, ...config.drop_fields]) if (!allowed.has(field)) delete body[field];
  for (const [field, value] of Object.entries(provider.body_defaults ?? {})) if (body[field] === undefined) body[field] = value;
  Object.assign(body, provider.body_overrides);
  body.model = provider.model;
  return body;
}
