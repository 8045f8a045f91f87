// Fixed-bound histograms, so counts from any isolate and any hour add up and quantiles can be read
// back. Bounds are the OpenTelemetry GenAI conventions' advised boundaries (seconds there, ms and
// tokens here). Stored per bucket as counts (not cumulative); the last count is above every bound.

export const HISTOGRAMS = {
  ttft: [1, 5, 10, 20, 40, 60, 80, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000],
  duration: [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 40960, 81920],
  input_tokens: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  output_tokens: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
} as const;
export type HistogramName = keyof typeof HISTOGRAMS;
export const HISTOGRAM_NAMES = Object.keys(HISTOGRAMS) as HistogramName[];

/** Counts per bucket: one per bound, then the overflow. */
export type Counts = number[];

export function emptyCounts(name: HistogramName): Counts {
  return new Array<number>(HISTOGRAMS[name].length + 1).fill(0);
}

/** The bucket a value falls in: the first bound it does not exceed. */
export function bucketOf(name: HistogramName, value: number): number {
  const bounds = HISTOGRAMS[name];
  const index = bounds.findIndex((bound) => value <= bound);
  return index < 0 ? bounds.length : index;
}

export function addCounts(into: Counts, from: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0;
}

/**
 * The q-quantile (0..1) as Prometheus' histogram_quantile reads it: linear within the bucket it
 * falls in; the overflow bucket answers its lower bound. Undefined with no observations.
 */
export function quantile(name: HistogramName, counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (!total) return undefined;
  const bounds = HISTOGRAMS[name];
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count > 0 && below + count >= rank) {
      if (i === bounds.length) return bounds[i - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return bounds.at(-1)!;
}
