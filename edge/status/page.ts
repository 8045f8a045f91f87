// The status page's HTML: one self-contained document whose style and script carry the request's
// CSP nonce. Everything it shows is drawn by the script from GET /v1/quota, and the history's
// charts (uPlot, bundled and inlined under the same nonce: nothing loads from elsewhere) from GET /v1/usage.
import { html, raw } from "hono/html";
import { REFRESH_SECONDS, statusScript } from "./script.ts";
import { statusStyle } from "./style.ts";
import { historyScript } from "./history-script.ts";
import { uplotScript, uplotStyle } from "./uplot.ts";

export function statusPage(nonce: string) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>InferRouter status</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${raw(statusStyle)}${raw(uplotStyle)}</style>
</head>
<body>
<header class="top">
  <h1>InferRouter status</h1>
  <span class="updated" id="updated">Refreshes every ${REFRESH_SECONDS} s</span>
  <button type="button" id="forget" hidden>Forget key</button>
</header>
<main>
  <p class="notice" id="notice" role="alert"></p>
  <form class="login" id="login" method="post" hidden>
    <label for="key">Admin key</label>
    <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required>
    <button type="submit">Show status</button>
    <p>One of the Worker's ADMIN_API_KEYS. It stays in this tab (sessionStorage) and is sent only as an
    Authorization: Bearer header to /v1/quota.</p>
  </form>
  <div id="board" hidden>
    <div class="summary" id="summary"></div>
    <h2>Providers</h2>
    <div class="providers" id="providers"></div>
    <section id="groups" hidden><h2>Quota groups</h2><div class="content"></div></section>
    <section id="clients" hidden><h2>Clients</h2><div class="content"></div></section>
    <section id="history" class="history">
      <h2>History <small>from /v1/usage; hover a chart for each period's values</small></h2>
      <div class="ranges"><button type="button" id="range-day" aria-pressed="true"></button><button type="button" id="range-week" aria-pressed="false"></button></div>
      <p class="notice error" id="history-error"></p>
      <p class="uncounted" id="history-note"></p>
      <div class="charts">
        <div class="chart" id="chart-requests"></div>
        <div class="chart" id="chart-failures"></div>
        <div class="chart" id="chart-ttft"></div>
        <div class="chart" id="chart-tokens"></div>
        <div class="chart" id="chart-cost-provider"></div>
        <div class="chart" id="chart-cost-client"></div>
      </div>
    </section>
    <section id="recent" hidden>
      <h2>Last failovers and skips <small>newest first; kept by the Worker instance that answered (up to 50)</small></h2>
      <div class="content"></div>
    </section>
  </div>
</main>
<script nonce="${nonce}">${raw(uplotScript)}
${raw(statusScript)}
${raw(historyScript)}</script>
</body>
</html>`;
}
