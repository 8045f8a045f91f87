// The chain's plan, made before any tracker call: which providers of the route can take this
// request at all (capabilities, context window: routing/needs.ts), in the order the route's
// strategy gives (routing/order.ts). A provider that cannot take it is skipped and logged, costs
// no quota and no call; when no provider can, the walk answers 400, never 503.
import type { Capability } from "../../shared/config.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import { orderProviders } from "../routing/order.ts";
import { estimatePromptTokens, neededCapabilities, requestedOutputTokens, unfitFor, type Unfit } from "../routing/needs.ts";
import { costUsd } from "../usage/cost.ts";
import { estimateTokens } from "../usage/estimate.ts";
import type { ChainRequest, WalkState } from "./types.ts";

/** The providers to walk, in order; the ones that cannot take the request are logged and noted. */
export function planChain(req: ChainRequest, walk: WalkState): string[] {
  const strategy = req.strategy ?? "ordered";
  // Capabilities and context windows are chat facts: an embeddings request is only ordered.
  const price = (providerId: string) => req.config.providers[providerId]!.price;
  if (req.endpoint === "embeddings") {
    const tokens = estimateTokens(req.body, undefined);
    return orderProviders(req.chain, req.config, strategy, req.random, (id) => costUsd(price(id), tokens));
  }
  const body = req.body as ChatCompletionRequest;
  const needs = neededCapabilities(body);
  const promptTokens = estimatePromptTokens(body);
  const fit = req.chain.filter((providerId) => {
    const unfit = unfitFor(body, needs, promptTokens, req.config.providers[providerId]!);
    if (unfit) skipUnfit(req, walk, providerId, unfit);
    return !unfit;
  });
  // `cheapest`: this request at each provider's price, with the output budget the context check uses.
  const cost = (id: string) =>
    costUsd(price(id), { prompt_tokens: promptTokens, completion_tokens: requestedOutputTokens(body, req.config.providers[id]!) });
  return orderProviders(fit, req.config, strategy, req.random, cost);
}

function skipUnfit(req: ChainRequest, walk: WalkState, providerId: string, unfit: Unfit): void {
  const provider = req.config.providers[providerId]!;
  const detail =
    unfit.reason === "capability"
      ? `lacks ${unfit.missing.join(", ")}`
      : `needs about ${unfit.promptTokens + unfit.outputTokens} tokens (${unfit.promptTokens} estimated prompt + ${unfit.outputTokens} answer), context_window is ${unfit.contextWindow}`;
  req.log.skipped({
    provider: providerId,
    model: provider.model,
    reason: unfit.reason,
    ...(unfit.reason === "capability" && { capability: unfit.missing.join(",") }),
    message: detail,
  });
  walk.outcomes.push({
    provider: providerId,
    category: "skipped",
    status: 0,
    detail,
    limited: false,
    unfit: unfit.reason,
    ...(unfit.reason === "capability" && { missing: unfit.missing }),
  });
}

/**
 * After a provider said ContextLengthExceeded, only providers with a larger or unknown window are
 * worth a call. A provider that said so without a known window teaches nothing about the others.
 * Returns false (and logs the skip) for a provider too small to try.
 */
export function roomAfterContextFailures(req: ChainRequest, walk: WalkState, providerId: string): boolean {
  const provider = req.config.providers[providerId]!;
  if (provider.context_window === undefined) return true;
  const failedWindows = walk.outcomes.flatMap((o) =>
    o.category === "ContextLengthExceeded" ? [req.config.providers[o.provider]?.context_window ?? -1] : [],
  );
  const largestFailed = Math.max(-1, ...failedWindows);
  if (provider.context_window > largestFailed) return true;
  const detail = `context_window ${provider.context_window} is no larger than that of a provider that found the prompt too long (${largestFailed})`;
  req.log.skipped({ provider: providerId, model: provider.model, reason: "context", message: detail });
  walk.outcomes.push({ provider: providerId, category: "skipped", status: 0, detail, limited: false, unfit: "context" });
  return false;
}

const CAPABILITY_PARAMS: Record<Capability, string> = { tools: "tools", vision: "messages", json_schema: "response_format", prefill: "messages" };

/**
 * The 400 for a request no provider of its route could take: every provider was skipped as unfit
 * or answered ContextLengthExceeded. `context_length_exceeded` when a provider had what the
 * request needs but not the room (with the provider's own message when one said so), else
 * `unsupported_capability` naming what is missing. Undefined when some provider failed otherwise.
 */
export function unservable(req: ChainRequest, walk: WalkState): { code: string; message: string; param: string; context: boolean } | undefined {
  const { outcomes } = walk;
  // A provider without its key is left out of the judgement: a 503 ("try again") would not help.
  const judged = outcomes.filter((o) => !o.unconfigured);
  if (!judged.length || !judged.every((o) => o.unfit || o.category === "ContextLengthExceeded")) return undefined;
  const said = outcomes.filter((o) => o.category === "ContextLengthExceeded").at(-1);
  if (said) return { code: "context_length_exceeded", message: `${said.provider}: ${said.detail}`, param: "messages", context: true };
  const details = outcomes.map((o) => `${o.provider}: ${o.detail}`).join("; ");
  if (outcomes.some((o) => o.unfit === "context")) {
    return { code: "context_length_exceeded", message: `The request is longer than any provider of model "${req.route}" takes: ${details}`, param: "messages", context: true };
  }
  const missing = [...new Set(outcomes.flatMap((o) => o.missing ?? []))];
  return {
    code: "unsupported_capability",
    message: `No provider of model "${req.route}" supports ${missing.join(", ")}: ${details}`,
    param: CAPABILITY_PARAMS[missing[0]!],
    context: false,
  };
}
