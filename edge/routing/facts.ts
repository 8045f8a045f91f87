// What a route's providers declare, as extra fields of its /v1/models entry (clients ignore fields
// they do not know):
//   context_window     the largest context_window among the route's providers that set one
//   max_output_tokens  the largest max_output_tokens likewise
//   capabilities       what at least one of its providers can do
//   strategy           how the route orders its providers
import { capabilitiesOf, CAPABILITIES, routeParts, type Capability, type RouterConfig, type Strategy } from "../../shared/config.ts";

export interface RouteFacts {
  context_window?: number;
  max_output_tokens?: number;
  capabilities: Capability[];
  strategy: Strategy;
}

function largest(values: Array<number | undefined>): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length ? Math.max(...known) : undefined;
}

export function routeFacts(config: RouterConfig, route: string): RouteFacts {
  const { providers: ids, strategy } = routeParts(config.routes[route]!);
  const providers = ids.map((providerId) => config.providers[providerId]!);
  const context_window = largest(providers.map((p) => p.context_window));
  const max_output_tokens = largest(providers.map((p) => p.max_output_tokens));
  return {
    ...(context_window !== undefined && { context_window }),
    ...(max_output_tokens !== undefined && { max_output_tokens }),
    capabilities: CAPABILITIES.filter((capability) => providers.some((p) => capabilitiesOf(p).has(capability))),
    strategy,
  };
}
