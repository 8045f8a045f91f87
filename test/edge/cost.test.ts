import { describe, expect, it } from "vitest";
import { costUsd } from "../../edge/usage/cost.ts";

describe("costUsd", () => {
  const price = { input_per_mtok: 0.5, output_per_mtok: 1.5 };
  it("is unknown without a price, never 0", () => {
    expect(costUsd(undefined, { prompt_tokens: 10, completion_tokens: 10 })).toBeUndefined();
  });
  it("charges prompt and completion tokens per million", () => {
    expect(costUsd(price, { prompt_tokens: 1_000_000, completion_tokens: 2_000_000 })).toBeCloseTo(3.5, 12);
  });
  it("is 0 for a free tier", () => {
    expect(costUsd({ input_per_mtok: 0, output_per_mtok: 0 }, { prompt_tokens: 999, completion_tokens: 5 })).toBe(0);
  });
  it("charges cached prompt tokens at their own rate, defaulting to the input rate", () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 400 } };
    expect(costUsd({ ...price, cached_input_per_mtok: 0.1 }, usage)).toBeCloseTo((600 * 0.5 + 400 * 0.1) / 1e6, 15);
    expect(costUsd(price, usage)).toBeCloseTo(1000 * 0.5 / 1e6, 15);
  });
  it("charges prompt tokens written to the cache at cache_write_per_mtok, defaulting to the input rate", () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 400, cache_write_tokens: 500 } };
    expect(costUsd({ ...price, cached_input_per_mtok: 0.05, cache_write_per_mtok: 0.625 }, usage)).toBeCloseTo((100 * 0.5 + 400 * 0.05 + 500 * 0.625) / 1e6, 15);
    expect(costUsd(price, usage)).toBeCloseTo(1000 * 0.5 / 1e6, 15);
  });
});
