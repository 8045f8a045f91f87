// The status page's script, inlined under the page's CSP nonce. It asks for an admin key once (kept in
// sessionStorage, sent only as `Authorization: Bearer`, never in a URL), reads GET /v1/quota every few
// seconds and draws it with DOM nodes and textContent (no innerHTML, so Trusted Types can be required).
// Every field of the quota JSON is treated as optional: the page draws what the Worker reports.
// Plain browser JavaScript in a string: no backticks, and no dollar-brace but the refresh constant
// and the shared USD formatter.
import { usdScript } from "./usd.ts";

export const REFRESH_SECONDS = 3;

export const statusScript = `
(() => {
  "use strict";
  const STORAGE_KEY = "inferrouter.admin_key";
  const REFRESH_MS = ${REFRESH_SECONDS * 1000};
  const byId = (id) => document.getElementById(id);
  let timer = 0;
  let generation = 0; // a newer load() makes an older one's answer stale (no two refresh loops)

  // --- small DOM and formatting helpers -------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const num = (n) => Number(n || 0).toLocaleString();
${usdScript}
  const isSet = (v) => v !== undefined && v !== null;
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  }
  /** A time in a given IANA zone, e.g. "Wed 00:00 PST". */
  function inZone(iso, zone) {
    return new Intl.DateTimeFormat([], { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" }).format(new Date(iso));
  }
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    const h = Math.floor(m / 60);
    if (h < 48) return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
    return Math.floor(h / 24) + " d";
  }
  const timeEl = (iso, text) => el("time", { datetime: iso }, text);
  const full = (used, limit) => isSet(limit) && Number(used || 0) >= limit;

  // --- the key ----------------------------------------------------------------------------------
  function notice(message, kind) {
    const box = byId("notice");
    box.textContent = message || "";
    box.className = "notice" + (kind === "error" ? " error" : "");
  }
  function askKey(message) {
    clearTimeout(timer);
    generation++;
    byId("login").hidden = false;
    byId("board").hidden = true;
    byId("forget").hidden = true;
    notice(message, "error");
    byId("key").value = "";
    byId("key").focus();
  }
  byId("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = byId("key").value.trim();
    if (!key) return;
    sessionStorage.setItem(STORAGE_KEY, key);
    notice("Checking the key\\u2026");
    load();
  });
  byId("forget").addEventListener("click", () => {
    sessionStorage.removeItem(STORAGE_KEY);
    askKey("");
  });

  // --- reading /v1/quota ------------------------------------------------------------------------
  async function load() {
    clearTimeout(timer);
    const run = ++generation;
    const key = sessionStorage.getItem(STORAGE_KEY);
    if (!key) return askKey("");
    let response;
    try {
      response = await fetch("/v1/quota", { headers: { authorization: "Bearer " + key }, cache: "no-store" });
    } catch (error) {
      if (run !== generation) return;
      return retry("Cannot reach InferRouter (" + error.message + "); retrying every " + REFRESH_MS / 1000 + " s.");
    }
    if (run !== generation) return;
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(STORAGE_KEY);
      return askKey("That admin key was refused (" + response.status + " from /v1/quota). Enter one of ADMIN_API_KEYS.");
    }
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (run !== generation) return;
    if (!response.ok || !body || typeof body !== "object") {
      const why = body && body.error && body.error.message ? body.error.message : response.statusText;
      return retry("/v1/quota answered " + response.status + ": " + why + " (retrying every " + REFRESH_MS / 1000 + " s)");
    }
    byId("login").hidden = true;
    byId("forget").hidden = false;
    byId("board").hidden = false;
    notice("");
    try {
      render(body);
    } catch (error) {
      return retry("Could not draw /v1/quota's answer (" + error.message + "); retrying every " + REFRESH_MS / 1000 + " s.");
    }
    timer = setTimeout(load, REFRESH_MS);
  }
  function retry(message) {
    notice(message, "error");
    timer = setTimeout(load, REFRESH_MS);
  }

  // --- providers --------------------------------------------------------------------------------
  const STATE_TEXT = { serving: "serving", half_open: "circuit half-open", limited: "limit reached", spent: "budget spent", cooldown: "cooling down", open: "circuit open", missing: "key missing" };

  /** Whether an allowance (a provider's own, or its quota group's) lets a request through now. */
  function allowanceState(a, now, whose) {
    if (a.cooldown_until && Date.parse(a.cooldown_until) > now) {
      return { kind: "cooldown", until: a.cooldown_until, detail: a.cooldown_reason ? "reason: " + a.cooldown_reason : whose };
    }
    const who = whose ? whose + ": " : "";
    // A spent budget is skipped like a spent allowance (the tracker denies it as "budget").
    if (full(a.usd_this_month, a.budget_usd_per_month)) return { kind: "spent", until: a.next_month_reset, detail: who + "this month's budget is spent" };
    if (full(a.usd_today, a.budget_usd_per_day)) return { kind: "spent", until: a.next_reset, detail: who + "today's budget is spent" };
    if (full(a.requests_today, a.requests_per_day) || full(a.tokens_today, a.tokens_per_day)) {
      return { kind: "limited", until: a.next_reset, detail: who + "today's allowance is used up" };
    }
    if (full(a.requests_last_minute, a.requests_per_minute) || full(a.tokens_last_minute, a.tokens_per_minute)) {
      return { kind: "limited", detail: who + "the last minute's allowance is used up" };
    }
    return null;
  }

  /**
   * What a person needs first: can this provider take a request now, and if not, until when. A
   * member of a quota group is out when the group is: its own counts are its share of the group's.
   */
  function stateOf(p, now, group) {
    const circuit = p.circuit || null;
    if (p.key === "missing") return { kind: "missing", detail: "its api_key_secret is not set, so it is skipped" };
    if (circuit && circuit.state === "open") {
      return { kind: "open", until: circuit.open_until, detail: isSet(circuit.failures) ? circuit.failures + " failures in a row" : "" };
    }
    const own = allowanceState(p, now, "");
    if (own && own.kind === "cooldown") return own;
    if (circuit && circuit.state === "half_open") return { kind: "half_open", detail: "trying one request to see if it recovered" };
    return (group && allowanceState(group, now, "group " + p.quota_group)) || own || { kind: "serving", detail: "" };
  }

  /** Limits and budgets the provider (or its group, or a client) sets: without any, nothing counts its requests. */
  const LIMIT_FIELDS = ["requests_per_day", "requests_per_minute", "tokens_per_day", "tokens_per_minute", "budget_usd_per_day", "budget_usd_per_month"];
  const hasLimits = (a) => LIMIT_FIELDS.some((field) => isSet(a[field]));

  /** A meter of used against limit, each written by show; left: what is left, where the Worker says. */
  function bar(metric, label, used, limit, show = num, left = null) {
    const track = el("div", { class: "track" + (isSet(limit) ? "" : " unlimited"), role: "meter", "aria-label": label,
      "aria-valuemin": 0, "aria-valuenow": used || 0, "aria-valuemax": isSet(limit) ? limit : undefined });
    if (isSet(limit)) {
      const ratio = limit > 0 ? Math.min(1, (used || 0) / limit) : 1;
      const fill = el("div", { class: "fill" + (ratio >= 1 ? " full" : ratio >= 0.8 ? " high" : "") });
      fill.style.width = (ratio * 100).toFixed(1) + "%";
      track.append(fill);
    }
    // null: the tracker does not count it (no limit needs it), which is not the same as none used.
    const value = !isSet(used) ? "not counted"
      : isSet(limit) ? show(used) + " / " + show(limit) + (isSet(left) ? " \\u00b7 " + show(left) + " left" : "")
      : show(used) + " \\u00b7 no limit";
    return el("div", { class: "bar", "data-metric": metric },
      el("div", { class: "bar-label" }, el("span", {}, label), el("span", { class: "bar-value" }, value)), track);
  }

  /** Spent against each USD budget that is set (null where it is not), and what is left of it. */
  const budgetBars = (a) => [
    isSet(a.budget_usd_per_day) ? bar("usd_today", "Spent today", a.usd_today, a.budget_usd_per_day, usd, a.budget_usd_remaining_today) : null,
    isSet(a.budget_usd_per_month) ? bar("usd_this_month", "Spent this month", a.usd_this_month, a.budget_usd_per_month, usd, a.budget_usd_remaining_this_month) : null,
  ];

  function resetLine(iso, zone, now) {
    if (!iso) return null;
    // The zone's name is added where its short name may not say it (PST, GMT+2).
    const named = zone && zone !== "UTC" ? " (" + zone + ")" : "";
    return el("p", { class: "reset" }, "Daily counts reset ", timeEl(iso, inZone(iso, zone || "UTC")), named + ", in " + span(Date.parse(iso) - now));
  }

  function providerCard(id, p, now, group) {
    const state = stateOf(p, now, group);
    const label = el("span", { class: "state " + state.kind }, STATE_TEXT[state.kind]);
    if (state.until) label.append(" until ", timeEl(state.until, clock(state.until)));
    const detail = [state.until ? "in " + span(Date.parse(state.until) - now) : "", state.detail].filter(Boolean).join(" \\u00b7 ");
    const meta = [p.model, p.type, p.quota_group ? "group " + p.quota_group : null].filter(Boolean).join(" \\u00b7 ");
    return el("article", { class: "provider " + state.kind, "data-provider": id, "data-state": state.kind },
      el("h3", {}, id),
      el("p", { class: "meta" }, meta),
      label,
      detail ? el("p", { class: "state-detail" }, detail) : null,
      ...(hasLimits(p) || group
        ? [
            bar("requests_today", "Requests today", p.requests_today, p.requests_per_day),
            bar("requests_last_minute", "Requests, last minute", p.requests_last_minute, p.requests_per_minute),
            bar("tokens_today", "Tokens today", p.tokens_today, p.tokens_per_day),
            bar("tokens_last_minute", "Tokens, last minute", p.tokens_last_minute, p.tokens_per_minute),
            ...budgetBars(p),
          ]
        : [el("p", { class: "uncounted" }, "No limits set: its requests are not counted (no tracker call).")]),
      resetLine(p.next_reset, p.daily_reset_tz, now));
  }

  // --- groups, clients, recent events -----------------------------------------------------------
  /** A table that scrolls on its own on a narrow screen, so the page itself never does. */
  function table(headings, rows) {
    return el("div", { class: "table-scroll" },
      el("table", {}, el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
  }
  const cell = (...content) => el("td", {}, content);

  function groupsTable(groups, providers, now) {
    return table(["Group", "Providers", "Requests today", "Requests, last minute", "Tokens today", "Tokens, last minute", "Spent today", "Spent this month", "Resets", "State"],
      Object.entries(groups).map(([name, g]) => {
        const members = g.providers || [];
        const zone = (members.map((id) => (providers[id] || {}).daily_reset_tz).find(Boolean)) || "UTC";
        const state = allowanceState(g, now, "") || { kind: "serving" };
        const label = el("span", { class: "state " + state.kind }, STATE_TEXT[state.kind]);
        if (state.until) label.append(" until ", timeEl(state.until, clock(state.until)));
        return el("tr", { "data-group": name, "data-state": state.kind },
          cell(el("strong", {}, name)), cell(members.join(", ")),
          cell(bar("requests_today", "Requests today", g.requests_today, g.requests_per_day)),
          cell(bar("requests_last_minute", "Requests, last minute", g.requests_last_minute, g.requests_per_minute)),
          cell(bar("tokens_today", "Tokens today", g.tokens_today, g.tokens_per_day)),
          cell(bar("tokens_last_minute", "Tokens, last minute", g.tokens_last_minute, g.tokens_per_minute)),
          ...budgetBars(g).map((b) => cell(b)),
          cell(g.next_reset ? timeEl(g.next_reset, inZone(g.next_reset, zone)) : ""),
          cell(label));
      }));
  }

  function clientsTable(clients) {
    return table(["Client", "Routes", "Requests today", "Requests, last minute", "Tokens today", "Spent today", "Spent this month", "Resets"],
      Object.entries(clients).map(([name, c]) => el("tr", { "data-client": name },
        cell(el("strong", {}, name)), cell(Array.isArray(c.routes) ? c.routes.join(", ") : "all routes"),
        ...(hasLimits(c)
          ? [
              cell(bar("requests_today", "Requests today", c.requests_today, c.requests_per_day)),
              cell(bar("requests_last_minute", "Requests, last minute", c.requests_last_minute, c.requests_per_minute)),
              cell(bar("tokens_today", "Tokens today", c.tokens_today, c.tokens_per_day)),
              ...budgetBars(c).map((b) => cell(b)),
            ]
          : [el("td", { colspan: 5, class: "uncounted" }, "No limits set: its requests are not counted.")]),
        cell(c.next_reset ? timeEl(c.next_reset, inZone(c.next_reset, "UTC")) : ""))));
  }

  const SKIP_TEXT = { missing_key: "key missing", rpm: "minute limit", daily: "daily limit", tokens: "token limit", budget: "budget spent", cooldown: "cooling down" };
  function why(e) {
    if (e.event === "infer_skipped") return SKIP_TEXT[e.reason] || e.reason || "";
    return [e.category, e.status ? "HTTP " + e.status : null].filter(Boolean).join(", ") + (e.message ? ": " + e.message : "");
  }
  function recentTable(events) {
    if (!events.length) return el("p", { class: "empty" }, "No failovers or skips seen by this Worker instance yet.");
    return table(["Time", "Event", "Route", "Provider", "Why", "Reopens"], events.map((e) => {
      const text = why(e);
      return el("tr", { "data-event": e.event, "data-provider": e.provider },
        cell(timeEl(e.ts, clock(e.ts))),
        cell(el("span", { class: "tag " + e.event }, e.event === "infer_fallback" ? "failover" : "skipped")),
        cell(e.route || ""), cell(e.provider || ""),
        el("td", { class: "why", title: text }, text),
        cell(e.retry_at ? timeEl(e.retry_at, clock(e.retry_at)) : ""));
    }));
  }

  function section(id, content) {
    const node = byId(id);
    node.hidden = !content;
    if (content) node.querySelector(".content").replaceChildren(content);
  }

  function render(q) {
    const now = Date.parse(q.generated_at) || Date.now();
    const zone = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(now).find((part) => part.type === "timeZoneName");
    byId("updated").replaceChildren("Updated ", timeEl(q.generated_at, clock(now)), " \\u00b7 times in " + (zone ? zone.value : "your zone") +
      " unless marked \\u00b7 refreshes every " + REFRESH_MS / 1000 + " s");
    const providers = q.providers || {};
    const groupOf = (p) => (p.quota_group && q.groups ? q.groups[p.quota_group] : undefined);
    const cards = Object.entries(providers).map(([id, p]) => providerCard(id, p, now, groupOf(p)));
    const counts = {};
    for (const card of cards) counts[card.dataset.state] = (counts[card.dataset.state] || 0) + 1;
    byId("summary").replaceChildren(...Object.keys(STATE_TEXT).filter((k) => counts[k]).map((k) =>
      el("span", { class: "chip " + k, "data-state": k }, counts[k] + " " + STATE_TEXT[k])));
    byId("providers").replaceChildren(...cards);
    section("groups", q.groups && Object.keys(q.groups).length ? groupsTable(q.groups, providers, now) : null);
    section("clients", q.clients && Object.keys(q.clients).length ? clientsTable(q.clients) : null);
    section("recent", Array.isArray(q.recent) ? recentTable(q.recent) : null);
  }

  load();
})();
`;
