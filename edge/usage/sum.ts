// Usage added up across the providers of one answer (a continued stream).
import type { Usage } from "../../shared/openai.ts";

/** Sums two usages: the terminal line counts every provider's tokens. */
export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a || !b) return a ?? b;
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}
