// Every skip reason the edge logs (shared/events.ts) is named where the docs list them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SKIP_REASONS } from "../../shared/events.ts";

const line = (path: string, marker: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8").split("\n").find((l) => l.includes(marker)) ?? "";

describe("skip reasons in the docs", () => {
  it.each([
    ["docs/usage.md", "| `skipped` |"],
    ["docs/logs.md", "| `reason`, `retry_at` |"],
    ["docs/troubleshooting.md", "| a provider is never called |"],
  ])("%s names every reason", (path, marker) => {
    const text = line(path, marker);
    for (const reason of SKIP_REASONS) expect(text, `${path}: ${reason}`).toContain(`\`${reason}\``);
  });
});
