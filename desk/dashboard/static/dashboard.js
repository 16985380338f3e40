// The dashboard's page: each panel reads its /api/ JSON (the command core's result, as `desk ops NAME --json`
// prints it) and draws it. Text from the store is only ever set as text (textContent), never as markup.
"use strict";

const desk = { session: null, stamp: null, reads: 0, refreshedAt: null, history: [], detail: null };
window.deskPage = desk; // what the tests and the benchmark read: how often and when the page read its panels

// ------------------------------------------------------------------ drawing helpers
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const fmt = {
  money: (x) => (x === null || x === undefined ? "–" :
    x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })),
  pct: (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(2) + "%"),
  num: (x) => (x === null || x === undefined ? "–" : String(x)),
  dec: (x) => (x === null || x === undefined ? "–" : x.toFixed(3)),
  text: (x) => (x === null || x === undefined || x === "" ? "–" : String(x)),
  time: (iso) => (iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : "–"),
};

// one cell: the raw JSON value in data-value (the tests compare it with the CLI's), the formatted one as text
function cell(value, kind, field, extra) {
  const raw = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : value;
  return el("td", { "data-field": field, "data-value": raw, class: ["money", "pct", "num", "dec"].includes(kind) ? "n" : null,
    ...(extra || {}) },
    (fmt[kind] || fmt.text)(value));
}

function table(columns, rows, key) {
  const head = el("tr", {}, columns.map(([label]) => el("th", {}, label)));
  const body = rows.map((row) => el("tr", { "data-key": row[key] },
    columns.map(([, field, kind, make]) => (make ? make(row) : cell(row[field], kind, field)))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

function figure(label, value, kind, field) {
  return el("div", { class: "figure" }, el("span", { class: "label" }, label),
    el("span", { class: "value", "data-field": field, "data-value": value === null ? "" : value },
      (fmt[kind] || fmt.text)(value)));
}

function note(text, cls) { return el("p", { class: cls || "note" }, text); }

async function getJSON(url) {
  const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json", "X-Desk-Page": "1" } });
  const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok || data.error) throw new Error(data.error || `${res.status}`);
  return data;
}

function stamp(section, asOf) {
  const when = section.querySelector(".when");
  const read = new Date().toISOString().slice(11, 19);
  when.textContent = (asOf ? `as of ${asOf} · ` : "") + `read ${read} UTC`;
  when.setAttribute("data-read", new Date().toISOString());
}

// plotly.js (4.8 MB) loads beside the page: the tables are drawn first, each chart as soon as plotly is there
const pendingCharts = new Map();
function chart(id, traces, layout) {
  if (typeof Plotly === "undefined") { pendingCharts.set(id, [traces, layout]); return; }
  Plotly.react(id, traces, Object.assign({
    margin: { l: 50, r: 10, t: 28, b: 30 }, height: 260, showlegend: true, legend: { orientation: "h" },
    font: { size: 11 },
  }, layout), { displayModeBar: false, responsive: true });
  desk.chartsAt = Date.now();
  document.body.setAttribute("data-charts", String(desk.chartsAt));
}

function drawPendingCharts() {
  for (const [id, [traces, layout]] of pendingCharts) chart(id, traces, layout);
  pendingCharts.clear();
}

// ------------------------------------------------------------------ panels
const panels = {
  book(section, r) {
    const box = section.querySelector("#book-figures");
    box.replaceChildren(
      figure("equity", r.equity, "money", "equity"), figure("cash", r.cash, "money", "cash"),
      figure("exposure", r.exposure, "pct", "exposure"), figure("today", r.day_change, "money", "day_change"),
      figure("today %", r.day_change_pct, "pct", "day_change_pct"),
      figure("since inception", r.total_return, "pct", "total_return"),
      figure(r.benchmark, r.benchmark_return, "pct", "benchmark_return"),
      figure("equal-weight universe", r.equal_weight_return, "pct", "equal_weight_return"),
      figure("max drawdown", r.max_drawdown, "pct", "max_drawdown"));
    if (!r.curve.length) { box.append(note("No session recorded yet: `desk run` records one.")); return r.as_of; }
    const x = r.curve.map((p) => p.date);
    chart("chart-value", [
      { x, y: r.curve.map((p) => p.equity), name: "the book", type: "scatter", mode: "lines" },
      { x, y: r.curve.map((p) => p.benchmark), name: r.benchmark, type: "scatter", mode: "lines" },
      { x, y: r.curve.map((p) => p.equal_weight), name: "equal-weight universe", type: "scatter", mode: "lines" },
    ], { title: { text: `value since ${r.inception}` }, xaxis: { tickformat: "%b %d %Y" } });
    chart("chart-drawdown", [{ x, y: r.curve.map((p) => p.drawdown), name: "drawdown", type: "scatter",
      fill: "tozeroy", mode: "lines" }], { title: { text: "drawdown" }, showlegend: false, yaxis: { tickformat: ".2%" },
      xaxis: { tickformat: "%b %d %Y" } });
    chart("chart-monthly", [{ x: r.monthly.map((m) => m.month), y: r.monthly.map((m) => m.change_pct), type: "bar",
      name: "month" }], { title: { text: "monthly returns" }, showlegend: false, yaxis: { tickformat: ".2%" },
      xaxis: { type: "category" } });
    return r.as_of;
  },

  status(section, r) {
    const state = document.getElementById("state");
    state.textContent = r.halted ? `HALTED: ${r.halt_reason || "no reason given"}` : "trading";
    state.className = "badge " + (r.halted ? "bad" : "good");
    state.setAttribute("data-value", String(r.halted));
    const body = section.querySelector(".body");
    const cap = r.llm_usd_cap_day;
    body.replaceChildren(
      el("dl", {},
        el("dt", {}, "halt"), el("dd", { "data-field": "halted", "data-value": String(r.halted) },
          r.halted ? `halted since ${fmt.time(r.halted_since)}: ${r.halt_reason || ""}` : "not halted"),
        el("dt", {}, "data until"), el("dd", { "data-field": "data_until" }, fmt.text(r.data_until)),
        el("dt", {}, "LLM spend today"), el("dd", { "data-field": "llm_usd_today", "data-value": r.llm_usd_today },
          `$${r.llm_usd_today.toFixed(4)} of ${cap === null ? "no cap (rules provider)" : "$" + cap.toFixed(2)}`
          + ` · ${r.llm_calls_today} call(s)`),
        el("dt", {}, "stale symbols"), el("dd", {}, r.stale.length ? r.stale.join(", ") : "none"),
        el("dt", {}, "Slack outbox"), el("dd", {}, Object.entries(r.outbox).map(([k, v]) => `${k} ${v}`).join(", ") || "empty"),
        el("dt", {}, "vetoed"), el("dd", {}, r.vetoed.length ? r.vetoed.join(", ") : "none"),
        el("dt", {}, "flattening"), el("dd", {}, r.flattening.length ? r.flattening.join(", ") : "none")),
      el("h3", {}, "Circuit breakers"),
      r.breakers.length ? table([["breaker", "name", "text"], ["tripped", "tripped", "text"],
        ["sessions", "sessions", "num"], ["reason", "reason", "text"]], r.breakers, "name") : note("none tripped"),
      el("h3", {}, "Mornings waiting for approval"),
      r.paused.length ? table([["run", "run_id", "text"], ["session", "session", "text"],
        ["deadline", "deadline", "text"], ["entries", "entries", "num"], ["exits", "exits", "num"],
        ["", "", "", (p) => el("td", {}, actionForms("approve", { run: p.run_id }), actionForms("reject", { run: p.run_id }))]],
      r.paused, "run_id") : note("none"));
    drawStatusActions(r);
    return r.as_of;
  },

  holdings(section, r) {
    const body = section.querySelector(".body");
    if (!r.holdings.length) { body.replaceChildren(note("No holdings.")); return r.as_of; }
    body.replaceChildren(table([
      ["symbol", "symbol", "text"], ["qty", "quantity", "num"], ["entry", "entry_date", "text"],
      ["entry price", "avg_price", "money"], ["price", "price", "money"], ["value", "value", "money"],
      ["P&L", "pnl", "money"], ["P&L %", "pnl_pct", "pct"], ["stop", "stop", "money"], ["trail", "trail_pct", "pct"],
      ["tiers taken", "tiers_hit", "num"], ["tier", "tier", "text"],
      ["agents", "agents", "text", (h) => cell(h.agents.join(", "), "text", "agents")],
      ["intent", "intent_id", "text", (h) => el("td", { "data-field": "intent_id", "data-value": h.intent_id || "" },
        h.intent_id ? whyLink(h.intent_id) : "–")],
    ], r.holdings, "symbol"), el("p", { class: "note" },
      `equity ${fmt.money(r.equity)} · cash ${fmt.money(r.cash)} · prices are each symbol's latest stored close`));
    return r.as_of;
  },

  async runs(section, r) {
    const body = section.querySelector(".body");
    let health = null;
    try { health = await getJSON("/api/health"); } catch (e) { health = { error: e.message }; }
    const sched = health && health.scheduler ? health.scheduler : null;
    const next = sched && sched.next ? Object.entries(sched.next) : [];
    const failed = r.runs.filter((x) => !["ok", "running", "paused"].includes(x.status));
    const reasons = (health && health.reasons) || [];
    body.replaceChildren(
      el("h3", {}, "Attention"),
      reasons.length ? el("ul", { "data-field": "reasons" }, reasons.map((x) => el("li", { class: "denial" }, x)))
        : note("nothing needs an operator (/health is 200)"),
      el("h3", {}, "Schedule"),
      sched ? (sched.running ? (next.length ? el("ul", {}, next.map(([k, v]) => el("li", { "data-field": "next-" + k },
        `${k}: ${fmt.text(v)}`))) : note("running; nothing scheduled")) : note("the scheduler is off (desk serve --no-scheduler)"))
        : note(health && health.error ? `health: ${health.error}` : "no schedule"),
      el("h3", {}, "Last failures"),
      health && health.failed && health.failed.length ? el("ul", {}, health.failed.map((f) => el("li", { class: "denial" },
        Object.values(f).filter((v) => v !== null).join(" · ")))) : null,
      failed.length ? table([["run", "run_id", "text"], ["status", "status", "text"], ["as of", "as_of", "text"],
        ["ended", "ended", "time"], ["note", "note", "text"]], failed, "run_id") : note("none among the latest runs"),
      el("h3", {}, "Latest runs"),
      Object.assign(table([["run", "run_id", "text"], ["kind", "kind", "text"], ["as of", "as_of", "text"],
        ["status", "status", "text"], ["started", "started", "time"], ["ended", "ended", "time"], ["note", "note", "text"]],
      r.runs, "run_id"), { id: "runs-latest" }));
    return r.runs.length ? r.runs[0].as_of : null;
  },
};

Object.assign(panels, {
  candidates(section, r) {
    const body = section.querySelector(".body");
    if (!r.as_of) { body.replaceChildren(note("No night has run yet.")); return null; }
    body.replaceChildren(
      el("p", { class: "note" }, `night of ${r.as_of} · threshold ${fmt.num(r.threshold)}`
        + (r.threshold_reason ? ` (${r.threshold_reason})` : "")),
      table([["symbol", "symbol", "text"], ["score", "score", "num"], ["selected", "selected", "text",
        (c) => cell(c.selected ? "yes" : "no", "text", "selected")],
      ["agents", "agents", "text", (c) => cell(c.agents.join(", "), "text", "agents")],
      ["dissent", "dissent", "dec"],
      ["intent", "intent_id", "text", (c) => el("td", { "data-field": "intent_id", "data-value": c.intent_id || "" },
        c.intent_id ? whyLink(c.intent_id) : "–")],
      ["status", "intent_status", "text"],
      ["denials", "denials", "text", (c) => el("td", { "data-field": "denials", class: "denial" },
        c.denials.map((d) => `${d.rule}: ${d.reason}`).join("; ") || "–")],
      ["score's parts", "explanation", "text"]], r.candidates, "symbol"));
    return r.as_of;
  },

  intents(section, r) {
    const body = section.querySelector(".body");
    if (!r.intents.length) { body.replaceChildren(note("No intents yet.")); return r.as_of; }
    body.replaceChildren(table([
      ["intent", "intent_id", "text", (i) => el("td", { "data-field": "intent_id", "data-value": i.intent_id },
        whyLink(i.intent_id))],
      ["side", "side", "text"], ["kind", "kind", "text"], ["qty", "quantity", "num"], ["status", "status", "text"],
      ["reason", "status_reason", "text"], ["vetoed by", "vetoed_by", "text"],
      ["", "", "", (i) => el("td", {}, i.status === "pending" && i.side === "buy" && !i.vetoed_by
        ? actionForms("veto", { intent: i.intent_id }, false) : null)],
    ], r.intents, "intent_id"));
    return r.as_of;
  },

  orders(section, r) {
    const body = section.querySelector(".body");
    if (!r.session) { body.replaceChildren(note("No order sent yet.")); return null; }
    body.replaceChildren(table([
      ["symbol", "symbol", "text"], ["side", "side", "text"], ["qty", "quantity", "num"], ["status", "status", "text"],
      ["filled", "filled", "num"], ["price", "price", "money"], ["commission", "commission", "money"],
      ["price source", "price_source", "text"],
      ["intent", "intent_id", "text", (o) => el("td", { "data-field": "intent_id" }, whyLink(o.intent_id))],
      ["detail", "detail", "text"]], r.orders, "client_order_id"));
    return r.session;
  },

  async weather(section, r) {
    const body = section.querySelector(".body");
    const disagreement = r.notes.filter((n) => n.includes("disagreement"));
    body.replaceChildren(
      el("dl", {},
        el("dt", {}, "regime"), el("dd", { "data-field": "regime", "data-value": r.regime },
          r.regime + (r.regime !== r.base_regime ? ` (the models alone: ${r.base_regime})` : "")),
        el("dt", {}, "sizing modifier"), el("dd", { "data-field": "sizing_modifier", "data-value": r.sizing_modifier },
          `×${r.sizing_modifier.toFixed(2)} · risk throttle ×${r.risk_throttle.toFixed(2)}`),
        el("dt", {}, "ensemble disagreement"), el("dd", { "data-field": "disagreement" },
          disagreement.join("; ") || "–")),
      el("h3", {}, "The analyst's narrative"), el("p", { class: "narrative", "data-field": "narrative" }, r.narrative || "–"),
      el("h3", {}, "The seven layers"),
      table([["layer", "name", "text"], ["state", "state", "text"], ["score", "score", "dec"],
        ["available", "available", "text", (l) => cell(l.available ? "yes" : "no", "text", "available")]],
      Object.entries(r.layers).map(([name, l]) => ({ name, ...l })), "name"),
      r.notes.length ? el("ul", {}, r.notes.map((n) => el("li", {}, n))) : null);
    if (desk.weatherRun !== r.run_id) { // the history changes only when a night ends
      desk.weatherRun = r.run_id;
      desk.regimes = await getJSON("/api/regimes?limit=30").catch((e) => ({ nights: [], error: e.message }));
    }
    drawRegimes(section, desk.regimes);
    return r.as_of;
  },

  agents(section, r) {
    section.querySelector(".body").replaceChildren(
      el("p", { class: "note" }, `night of ${r.as_of} · trust ${r.mode}`),
      table([["agent", "agent", "text"], ["style", "style", "text"], ["model", "model_version", "text"],
        ["weight", "weight", "dec"], ["posterior", "posterior_mean", "dec"], ["hit rate", "hit_rate", "pct"],
        ["IC", "ic", "dec"], ["resolved", "resolved", "num"],
        ["drift", "drift", "text", (a) => cell(a.drift === null ? null : a.drift ? "DRIFT" : "no", "text", "drift")],
        ["why", "reason", "text"]], r.agents, "agent"));
    return r.as_of;
  },

  models(section, r) {
    section.querySelector(".body").replaceChildren(r.models.length ? table([["model", "name", "text"],
      ["version", "version", "text"], ["status", "status", "text"], ["cutoff", "cutoff", "text"],
      ["metric", "metric", "text"], ["out of sample", "validation", "dec"], ["baseline", "best_baseline", "text"],
      ["baseline's", "baseline_value", "dec"], ["why", "reason", "text"]], r.models, "version")
      : note("No model saved yet: `desk run` trains the default ones, `desk train` every one."));
    return null;
  },
});

function drawRegimes(section, hist) {
  const box = section.querySelector(".history");
  if (hist.error) { box.replaceChildren(note(hist.error, "error")); return; }
  const x = hist.nights.map((n) => n.as_of);
  box.replaceChildren(note(`history of ${hist.nights.length} night(s)`));
  const order = [...hist.order].reverse(); // most hostile at the bottom
  chart("chart-regimes", [
    { x, y: hist.nights.map((n) => n.regime), name: "fused regime", type: "scatter", mode: "lines+markers",
      line: { shape: "hv" } },
    { x, y: hist.nights.map((n) => n.base_regime), name: "the models alone", type: "scatter", mode: "markers" },
  ], { title: { text: "regime timeline" }, margin: { l: 110, r: 10, t: 28, b: 30 }, xaxis: { tickformat: "%b %d %Y" },
    yaxis: { type: "category", categoryorder: "array", categoryarray: order } });
  const layers = hist.nights.length ? Object.keys(hist.nights[hist.nights.length - 1].layers) : [];
  chart("chart-layers", layers.map((k) => ({ x, y: hist.nights.map((n) => (n.layers[k] || {}).score ?? null), name: k,
    type: "scatter", mode: "lines" })), { title: { text: "layers: −1 hostile … +1 supportive" }, xaxis: { tickformat: "%b %d %Y" } });
  const experts = hist.nights.length ? Object.keys(hist.nights[hist.nights.length - 1].experts)
    .filter((k) => typeof hist.nights[hist.nights.length - 1].experts[k] === "number") : [];
  chart("chart-experts", experts.map((k) => ({ x, y: hist.nights.map((n) => (typeof n.experts[k] === "number"
    ? n.experts[k] : null)), name: k, type: "scatter", mode: "lines" })),
  { title: { text: "expert signals" }, xaxis: { tickformat: "%b %d %Y" } });
  const flags = hist.nights.filter((n) => Object.values(n.experts).some((v) => v === true));
  if (flags.length) box.append(el("ul", {}, flags.map((n) => el("li", {}, `${n.as_of}: `
    + Object.entries(n.experts).filter(([, v]) => v === true).map(([k]) => k).join(", ")))));
}

const queries = { runs: "?limit=15" };

function whyLink(target) {
  return el("a", { href: "#why", class: "why", "data-why": target, onclick: (ev) => { ev.preventDefault(); showWhy(target); } },
    target);
}

// ------------------------------------------------------------------ why, one click away
async function showWhy(target) {
  desk.detail = target;
  let box = document.getElementById("panel-why");
  if (!box) return;
  box.hidden = false;
  const body = box.querySelector(".body");
  try {
    const r = await getJSON("/api/why?target=" + encodeURIComponent(target));
    drawWhy(box, r);
    stamp(box, r.as_of);
  } catch (e) {
    body.replaceChildren(note(e.message, "error"));
  }
  box.scrollIntoView({ block: "nearest" });
}

function drawWhy(box, r) {
  const body = box.querySelector(".body");
  body.replaceChildren(
    el("p", { "data-field": "intent_id", "data-value": r.intent_id },
      `${r.intent_id}: ${r.side} ${r.quantity} ${r.symbol} (${r.kind}, ${r.track}) — ${r.status}`
      + (r.status_reason ? `: ${r.status_reason}` : "")),
    el("h3", {}, "Reasons"), el("ul", {}, r.reasons.map((x) => el("li", {}, x))),
    el("h3", {}, "Proposals"), table([["agent", "agent", "text"], ["action", "action", "text"],
      ["model", "model_version", "text"]], r.models, "agent"),
    el("h3", {}, `Sizing${r.tier ? " · tier " + r.tier : ""}`),
    table([["factor", "name", "text"], ["multiplier", "multiplier", "dec"], ["weight after", "weight_after", "pct"],
      ["why", "reason", "text"]], r.sizing, "name"),
    r.gates.length ? el("ul", {}, r.gates.map((g) => el("li", {}, g))) : null,
    el("h3", {}, "Verdicts"), r.verdicts.length ? el("ul", {}, r.verdicts.map((v) =>
      el("li", {}, `${v.decision} ×${v.size_multiplier}: ${v.reason}`))) : note("none"),
    el("h3", {}, "Denials"), r.denials.length ? el("ul", {}, r.denials.map((d) =>
      el("li", { class: "denial" }, `${d.rule}: ${d.reason}`))) : note("none"),
    el("h3", {}, "Orders and fills"),
    r.orders.length ? table([["order", "client_order_id", "text"], ["status", "status", "text"],
      ["session", "session", "text"], ["qty", "quantity", "num"]], r.orders, "client_order_id") : note("no order"),
    r.fills.length ? table([["qty", "quantity", "num"], ["price", "price", "money"], ["commission", "commission", "money"],
      ["session", "session", "text"], ["price source", "price_source", "text"]], r.fills, "session") : null);
}

// ------------------------------------------------------------------ actions (only with a login and dashboard.actions)
function actionForms(name, fields, reasonNeeded) {
  const s = desk.session;
  if (!s || !s.actions || !s.csrf) return null;
  const form = el("form", { method: "post", action: "/api/do/" + name, class: "action", "data-action": name });
  form.append(el("input", { type: "hidden", name: "csrf", value: s.csrf }));
  for (const [k, v] of Object.entries(fields || {})) form.append(el("input", { type: "hidden", name: k, value: v }));
  if (reasonNeeded !== undefined) form.append(el("input", { type: "text", name: "reason", placeholder: "reason",
    required: reasonNeeded || null }));
  form.append(el("button", { type: "submit" }, name));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = form.querySelector(".said") || form.appendChild(el("span", { class: "said" }));
    try {
      const res = await fetch(form.action, { method: "POST", credentials: "same-origin",
        body: new URLSearchParams(new FormData(form)) });
      const data = await res.json().catch(() => ({}));
      out.textContent = res.ok ? (data.effect || data.note || "done") : (data.error || String(res.status));
      out.className = "said " + (res.ok ? "good" : "bad");
    } catch (e) { out.textContent = e.message; out.className = "said bad"; }
    refreshAll();
  });
  return form;
}

function drawStatusActions(r) {
  const box = document.getElementById("actions-status");
  if (!box) return;
  box.replaceChildren(...[r.halted ? actionForms("resume", {}) : actionForms("halt", {}, true)].filter(Boolean));
}

// ------------------------------------------------------------------ the session, the reads, live updates
async function drawSession() {
  try { desk.session = await getJSON("/api/session"); } catch (e) { desk.session = null; }
  const who = document.getElementById("who");
  const s = desk.session;
  if (!s) return;
  if (s.who) {
    const form = el("form", { method: "post", action: "/logout" }, el("input", { type: "hidden", name: "csrf", value: s.csrf }),
      el("button", { type: "submit" }, "log out"));
    who.replaceChildren(`${s.who} (${s.role})`, form);
  } else if (s.login) {
    who.replaceChildren(el("a", { href: "/login" }, "log in"), s.actions ? " to act" : "");
  } else {
    who.replaceChildren(s.loopback ? "read-only (loopback)" : "");
  }
}

async function refresh(name) {
  const section = document.querySelector(`section[data-api="${name}"]`);
  try {
    const data = await getJSON("/api/" + name + (queries[name] || ""));
    const asOf = await panels[name](section, data);
    section.classList.remove("failed");
    const err = section.querySelector(":scope > .error");
    if (err) err.remove();
    stamp(section, asOf);
  } catch (e) {
    section.classList.add("failed");
    let err = section.querySelector(":scope > .error");
    if (!err) { err = note("", "error"); section.append(err); }
    err.textContent = e.message;
    stamp(section, null);
  }
}

let running = null;
let again = false;
async function refreshAll() {
  if (running) { again = true; return running; }
  running = (async () => {
    let started;
    do {
      started = Date.now();
      again = false;
      await Promise.all(Object.keys(panels).filter((n) => document.querySelector(`section[data-api="${n}"]`))
        .map(refresh));
      if (desk.detail) await showWhy(desk.detail);
    } while (again);
    desk.reads += 1;
    desk.refreshedAt = Date.now();
    desk.history.push([started, desk.refreshedAt]); // the last pass: when it began reading, when it had drawn
    if (desk.history.length > 500) desk.history.shift();
    document.body.setAttribute("data-reads", String(desk.reads));
    document.body.setAttribute("data-refreshed-at", String(desk.refreshedAt));
    document.body.setAttribute("data-stamp", desk.stamp || "");
  })();
  try { await running; } finally { running = null; }
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.onmessage = (ev) => {
    const d = JSON.parse(ev.data);
    live.textContent = d.error ? d.error : `live · changed ${fmt.time(d.seen)}`;
    live.className = "live " + (d.error ? "bad" : "good");
    if (d.stamp !== desk.stamp) {
      const first = desk.stamp === null;
      desk.stamp = d.stamp;
      if (!first) refreshAll();
    }
  };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "live bad"; };
}

// plotly.js is parsed on the page's one thread (seconds on a busy machine): it is fetched once the numbers are drawn
function loadPlotly() {
  const script = el("script", { src: "/static/plotly.min.js", id: "plotly-js" });
  script.addEventListener("load", drawPendingCharts);
  document.head.append(script);
}

document.addEventListener("DOMContentLoaded", async () => {
  await drawSession();
  await refreshAll();
  loadPlotly();
  listen();
});
