// docs/grafana/inferrouter.json reads only metrics GET /metrics writes (a renamed metric would
// leave a panel empty without a word).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { historyFamilies, trackerFamilies } from "../../edge/usage/metric-families.ts";

const root = new URL("../../", import.meta.url).pathname;

describe("the Grafana dashboard", () => {
  it("queries only metric names /metrics exposes (histograms by _bucket, _sum or _count)", () => {
    const dashboard = JSON.parse(readFileSync(`${root}docs/grafana/inferrouter.json`, "utf8")) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const families = [...historyFamilies([]), ...trackerFamilies([], [])];
    const exposed = new Set(families.flatMap((f) => (f.type === "histogram" ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name])));
    // The OTel label names look like metric names: left out.
    const labels = new Set(["gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"]);
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(gen_ai|inferrouter)_[a-z_]+/g) ?? [])).filter((name) => !labels.has(name));
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) expect(exposed, name).toContain(name);
  });
});
