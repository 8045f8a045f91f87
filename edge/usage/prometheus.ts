// The Prometheus text exposition format (version 0.0.4): families of samples with HELP and TYPE,
// label values escaped, histograms as cumulative `le` buckets with _sum and _count. The values
// come from stored sums (never per-isolate counters), so they only grow across isolates.
// prom-client is built around in-process counters it increments itself; here every value is read
// back from storage on each scrape, so the few lines of text formatting are written out here.
import { roundUsd } from "./cost.ts";
import { HISTOGRAMS, type HistogramName } from "./histogram.ts";

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}
export interface HistogramSample {
  labels: Labels;
  /** Counts per bucket (not cumulative), as histogram.ts keeps them. */
  counts: readonly number[];
  sum: number;
}

export type Family =
  | { name: string; help: string; type: "counter" | "gauge"; samples: Sample[] }
  | { name: string; help: string; type: "histogram"; histogram: HistogramName; /** Stored units per the metric's unit (ms per second: 1000). */ per: number; samples: HistogramSample[] };

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

const number = (value: number) => (Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN");

/** A USD family (Prometheus' unit suffix: `_usd`, `_usd_total`): sums of float costs show 0.30000000000000004 unrounded. */
const isUsd = (name: string) => /_usd(_total)?$/.test(name);

/** One family's lines; a family with no samples still says what it is. */
function familyText(family: Family): string[] {
  const lines = [`# HELP ${family.name} ${family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${family.name} ${family.type}`];
  if (family.type !== "histogram") {
    const value = isUsd(family.name) ? roundUsd : (v: number) => v;
    for (const sample of family.samples) lines.push(`${family.name}${labelText(sample.labels)} ${number(value(sample.value))}`);
    return lines;
  }
  // `per` turns stored units into the metric's (ms to seconds: 1000); a division, as 9 * 0.001 is 0.009000000000000001.
  const bounds = HISTOGRAMS[family.histogram];
  for (const sample of family.samples) {
    let cumulative = 0;
    bounds.forEach((bound, i) => {
      cumulative += sample.counts[i] ?? 0;
      lines.push(`${family.name}_bucket${labelText({ ...sample.labels, le: String(bound / family.per) })} ${cumulative}`);
    });
    cumulative += sample.counts[bounds.length] ?? 0;
    lines.push(`${family.name}_bucket${labelText({ ...sample.labels, le: "+Inf" })} ${cumulative}`);
    lines.push(`${family.name}_sum${labelText(sample.labels)} ${number(sample.sum / family.per)}`);
    lines.push(`${family.name}_count${labelText(sample.labels)} ${cumulative}`);
  }
  return lines;
}

export function exposition(families: readonly Family[]): string {
  return `${families.flatMap(familyText).join("\n")}\n`;
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
