// The status page's stylesheet, inlined under the page's CSP nonce (no external files, works offline).
// Bar widths are set from the script through the CSSOM, which CSP allows; style attributes are not used.
export const statusStyle = `
:root {
  --bg: #f4f5f7; --card: #fff; --text: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --off: #57606a; --info: #0969da;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
header.top { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 14px 24px; background: #24292f; color: #fff; }
header.top h1 { font-size: 19px; margin: 0; }
header.top .updated { color: #c9d1d9; font-size: 13px; flex: 1; }
header.top button { background: transparent; color: #fff; border: 1px solid #8c959f; border-radius: 6px; padding: 3px 10px; cursor: pointer; }
main { padding: 16px 24px 32px; max-width: 1400px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
h2 small { font-weight: normal; color: var(--muted); font-size: 13px; }
[hidden] { display: none !important; }
.notice { margin: 0 0 12px; padding: 10px 14px; border-radius: 6px; background: #fff8c5; border: 1px solid #d4a72c; }
.notice.error { background: #ffebe9; border-color: #ff8182; }
.notice:empty { display: none; }
form.login { max-width: 460px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 18px; }
form.login label { display: block; font-weight: 600; margin-bottom: 6px; }
form.login input { width: 100%; font: inherit; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px; }
form.login button { margin-top: 10px; font: inherit; padding: 6px 16px; border: 0; border-radius: 6px; background: var(--ok); color: #fff; cursor: pointer; }
form.login p { color: var(--muted); font-size: 13px; margin: 10px 0 0; }
.summary { display: flex; gap: 8px; flex-wrap: wrap; margin: 4px 0 4px; }
.chip { padding: 3px 12px; border-radius: 999px; font-weight: 600; font-size: 14px; color: #fff; background: var(--off); }
.providers { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
.provider { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--off); border-radius: 8px; padding: 12px 14px; }
.provider h3 { font-size: 17px; margin: 0; }
.provider .meta { color: var(--muted); font-size: 13px; margin: 2px 0 8px; overflow-wrap: anywhere; }
.state { display: inline-block; margin: 2px 0 4px; padding: 2px 10px; border-radius: 6px; font-weight: 600; color: #fff; background: var(--off); }
.state-detail { color: var(--muted); font-size: 13px; margin: 0 0 8px; }
.serving { --accent: var(--ok); } .half_open, .limited, .spent { --accent: var(--warn); }
.cooldown { --accent: #bc4c00; } .open { --accent: var(--bad); } .missing { --accent: var(--off); }
.provider.serving, .provider.half_open, .provider.limited, .provider.spent, .provider.cooldown, .provider.open, .provider.missing { border-left-color: var(--accent); }
.state.serving, .state.half_open, .state.limited, .state.spent, .state.cooldown, .state.open, .state.missing,
.chip.serving, .chip.half_open, .chip.limited, .chip.spent, .chip.cooldown, .chip.open, .chip.missing { background: var(--accent); }
.bar { margin: 6px 0; }
.bar-label { display: flex; justify-content: space-between; font-size: 13px; }
.bar-value { font-variant-numeric: tabular-nums; font-weight: 600; }
.track { height: 9px; border-radius: 5px; background: #e6e9ed; overflow: hidden; }
.track.unlimited { background: repeating-linear-gradient(135deg, #eceff2 0 6px, #f8f9fa 6px 12px); }
.fill { height: 100%; width: 0; background: var(--ok); }
.fill.high { background: var(--warn); } .fill.full { background: var(--bad); }
.reset { font-size: 13px; color: var(--muted); margin: 8px 0 0; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; font-size: 13px; color: var(--muted); }
td .bar { margin: 0; min-width: 90px; }
/* In a table the column heading names the bar. */
td .bar-label > span:first-child { display: none; }
td .bar-label { justify-content: flex-end; }
.table-scroll { overflow-x: auto; max-width: 100%; }
.uncounted { color: var(--muted); font-size: 13px; margin: 6px 0; }
td.why { max-width: 480px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tag { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
.tag.infer_fallback { background: #bc4c00; } .tag.infer_skipped { background: var(--off); }
.empty { color: var(--muted); font-style: italic; }
time { font-variant-numeric: tabular-nums; }
.ranges { display: flex; gap: 6px; margin: 0 0 10px; }
.ranges button { font: inherit; font-size: 13px; padding: 3px 12px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); cursor: pointer; }
.ranges button[aria-pressed="true"] { background: #24292f; color: #fff; border-color: #24292f; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 620px), 1fr)); gap: 14px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; overflow-x: auto; }
.chart h3 { font-size: 15px; margin: 0; }
.period-total { color: var(--muted); font-size: 13px; margin: 2px 0 6px; font-variant-numeric: tabular-nums; }
.uplot .u-legend { font-size: 12px; text-align: left; }
`;
