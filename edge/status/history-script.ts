// The status page's history view: charts drawn by uPlot (bundled, served at /status/uplot.js)
// from GET /v1/usage: requests and failed calls per provider, time to first token p50/p95,
// tokens, and cost by provider and by client, each with its period's total. Hovering a chart
// shows the values of that hour (or day) in its legend. Reads the key the status script keeps.
// Plain browser JavaScript in a string: no backticks, and no dollar-brace but the refresh constant
// and the shared USD formatter.
import { usdScript } from "./usd.ts";

export const HISTORY_REFRESH_SECONDS = 60;

export const historyScript = `
(() => {
  "use strict";
  const STORAGE_KEY = "inferrouter.admin_key";
  const byId = (id) => document.getElementById(id);
  const RANGES = { day: { label: "24 hours", interval: "hour", seconds: 86400, step: 3600 }, week: { label: "7 days", interval: "day", seconds: 7 * 86400, step: 86400 } };
  const COLORS = ["#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#9a6700", "#57606a", "#bf3989"];
  let range = "day";
  let charts = [];
  let timer = 0;
  let generation = 0;

  const num = (n) => Number(n || 0).toLocaleString();
  // Cost is a sum at known prices (requests at an unknown price are counted apart, history-note).
${usdScript}
  const ms = (n) => n === null || n === undefined ? "\\u2013" : (n < 10 ? n.toFixed(1) : String(Math.round(n))) + " ms";
  const label = (name) => name === "" ? "(no provider)" : name;

  async function usage(groupBy) {
    const r = RANGES[range];
    const to = Math.ceil(Date.now() / 1000 / r.step) * r.step;
    const params = new URLSearchParams({ interval: r.interval, group_by: groupBy, from: new Date((to - r.seconds) * 1000).toISOString(), to: new Date(to * 1000).toISOString() });
    const response = await fetch("/v1/usage?" + params, { headers: { authorization: "Bearer " + sessionStorage.getItem(STORAGE_KEY) }, cache: "no-store" });
    if (!response.ok) throw new Error("/v1/usage answered " + response.status);
    return response.json();
  }

  /** Every period of the range, so an hour without traffic shows as 0, not as a gap drawn over. */
  function periods(report) {
    const step = RANGES[range].step;
    const out = [];
    for (let t = Date.parse(report.from) / 1000; t < Date.parse(report.to) / 1000; t += step) out.push(t);
    return out;
  }

  /** One series per group: value(bucket) at each period, 'empty' where the group had no bucket. */
  function seriesOf(report, value, empty) {
    const xs = periods(report);
    const index = new Map(xs.map((x, i) => [x, i]));
    const names = Object.keys(report.groups);
    const data = names.map(() => xs.map(() => empty));
    for (const bucket of report.buckets) {
      const i = index.get(Date.parse(bucket.start) / 1000);
      const g = names.indexOf(bucket[report.group_by]);
      if (i !== undefined && g >= 0) data[g][i] = value(bucket);
    }
    return { xs, names, data };
  }

  const widthOf = (box) => Math.max(240, Math.min(box.clientWidth || 600, 1300) - 26);

  function chart(id, title, total, series, format) {
    const box = byId(id);
    box.replaceChildren();
    const head = document.createElement("h3");
    head.textContent = title;
    const sum = document.createElement("p");
    sum.className = "period-total";
    sum.textContent = total;
    box.append(head, sum);
    const plot = new uPlot({
      width: widthOf(box), height: 200,
      scales: { x: { time: true } },
      axes: [{}, { values: (u, splits) => splits.map((v) => format(v)), size: 84 }],
      series: [{ label: RANGES[range].interval === "hour" ? "Hour" : "Day" }].concat(series.names.map((name, i) => ({
        label: label(name), stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 5 }, value: (u, v) => format(v), spanGaps: false,
      }))),
      legend: { live: true },
    }, [series.xs].concat(series.data), box);
    charts.push(plot);
  }

  function totalsLine(report, pick, format) {
    const parts = Object.entries(report.groups).map(([name, totals]) => label(name) + " " + format(pick(totals)));
    return "Period total: " + format(pick(report.totals)) + (parts.length ? " (" + parts.join(", ") + ")" : "");
  }

  async function draw() {
    const mine = ++generation;
    clearTimeout(timer);
    let byProvider, byClient;
    try {
      [byProvider, byClient] = await Promise.all([usage("provider"), usage("client")]);
    } catch (error) {
      byId("history-error").textContent = "History could not be read: " + error.message;
      timer = setTimeout(draw, 10000);
      return;
    }
    if (mine !== generation) return;
    byId("history-error").textContent = "";
    for (const plot of charts) plot.destroy();
    charts = [];
    const requests = (t) => t.requests;
    const failures = (t) => t.failed + t.failed_over;
    const tokens = (t) => t.total_tokens;
    const cost = (t) => t.cost_usd;
    chart("chart-requests", "Requests by provider", totalsLine(byProvider, requests, num), seriesOf(byProvider, requests, 0), num);
    chart("chart-failures", "Failed calls by provider (failed + failed over)", totalsLine(byProvider, failures, num), seriesOf(byProvider, failures, 0), num);
    const ttft = seriesOf(byProvider, (b) => b.ttft_ms.p50, null);
    const p95 = seriesOf(byProvider, (b) => b.ttft_ms.p95, null);
    chart("chart-ttft", "Time to first token (streams), p50 and p95", "Period: p50 " + ms(byProvider.totals.ttft_ms.p50) + ", p95 " + ms(byProvider.totals.ttft_ms.p95),
      { xs: ttft.xs, names: ttft.names.map((n) => label(n) + " p50").concat(p95.names.map((n) => label(n) + " p95")), data: ttft.data.concat(p95.data) }, ms);
    chart("chart-tokens", "Tokens by provider (prompt + completion)", totalsLine(byProvider, tokens, num), seriesOf(byProvider, tokens, 0), num);
    chart("chart-cost-provider", "Cost by provider", totalsLine(byProvider, cost, usd), seriesOf(byProvider, cost, 0), usd);
    chart("chart-cost-client", "Cost by client", totalsLine(byClient, cost, usd), seriesOf(byClient, cost, 0), usd);
    const unknown = byProvider.totals.cost_unknown_requests;
    byId("history-note").textContent = unknown ? num(unknown) + " request(s) at a provider without a price are not in the cost (unknown, not 0)." : "";
    timer = setTimeout(draw, ${HISTORY_REFRESH_SECONDS * 1000});
  }

  // A chart follows its box's width (a phone turned, a window resized): uPlot draws at a fixed size.
  let resizing = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => {
      for (const plot of charts) plot.setSize({ width: widthOf(plot.root.parentElement), height: 200 });
    });
  });

  for (const [name, r] of Object.entries(RANGES)) {
    const button = byId("range-" + name);
    button.addEventListener("click", () => {
      range = name;
      for (const other of Object.keys(RANGES)) byId("range-" + other).setAttribute("aria-pressed", String(other === name));
      draw();
    });
    button.textContent = r.label;
  }
  // Drawn once the status board shows (the key was accepted), stopped while it is hidden.
  const board = byId("board");
  new MutationObserver(() => {
    if (board.hidden) { clearTimeout(timer); generation++; }
    else if (!charts.length) draw();
  }).observe(board, { attributes: true, attributeFilter: ["hidden"] });
})();
`;
