// NetVigil operator console: plain JS, no build step. Text goes in with textContent only.
"use strict";
const $ = (sel) => document.querySelector(sel);
const SVGNS = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("nv-token") || "";
let role = "";
let selected = null;

// One clock on the page: the time of the network's events (the twin's simulated clock, or the
// devices' own), always shown in UTC; the header says so. The page's own refreshes are shown
// as "live", never as a wall-clock time.
function fmt(ts) { return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }
let lastOk = 0;

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: Object.assign({ Authorization: "Bearer " + token },
      body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) { logout("token refused"); throw new Error("401"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { const e = new Error(data.detail || res.statusText); e.status = res.status; throw e; }
  return data;
}

function row(cells, attrs) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c ?? "";
    tr.appendChild(td);
  }
  Object.assign(tr.dataset, attrs || {});
  return tr;
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

async function login(ev) {
  if (ev) ev.preventDefault();
  token = token || $("#token").value.trim();
  try {
    const me = await api("GET", "/api/me");
    role = me.role;
    sessionStorage.setItem("nv-token", token);
    $("#who").textContent = me.name + " (" + me.role + ")";
    $("#login-panel").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
    refresh();
  } catch (e) {
    token = "";
    $("#login-error").textContent = e.status === 429 ? "too many failed logins; wait a minute" : "token refused";
  }
}

function logout(msg) {
  token = ""; sessionStorage.removeItem("nv-token");
  $("#app").hidden = true; $("#login-panel").hidden = false; $("#logout").hidden = true;
  $("#login-error").textContent = msg || ""; $("#who").textContent = "";
  lastOk = 0; $("#live").textContent = "";
}

async function refresh() {
  if (!token) return;
  try {
    await loadIncidents();  // first: the approvals panel names their incidents
    await Promise.all([loadPending(), loadServices(), loadBreaker(), loadAudit()]);
    if (selected) await loadDetail(selected, false);
    lastOk = Date.now();
  } catch (e) { /* shown by the handlers; retry on the next tick */ }
  showLive();
}

function showLive() {
  const quiet = Math.round((Date.now() - lastOk) / 1000);
  const live = $("#live");
  live.textContent = !lastOk ? "" : quiet < 6 ? "● live" : `● no answer for ${quiet} s`;
  live.className = quiet < 6 ? "ok" : "error";
}

let lastIncidents = [];

async function loadIncidents() {
  const list = await api("GET", "/api/incidents?limit=100");
  lastIncidents = list;
  const body = $("#incidents tbody");
  body.replaceChildren();
  for (const i of list) {
    const tr = row([fmt(i.opened_ts), i.status, i.severity, i.title, i.ticket], { fp: i.fingerprint });
    tr.children[1].className = "st-" + i.status;
    tr.children[2].className = "sev-" + i.severity;
    if (i.fingerprint === selected) tr.classList.add("selected");
    tr.addEventListener("click", () => loadDetail(i.fingerprint, true));
    body.appendChild(tr);
  }
  const open = list.filter((i) => i.status === "open").length;
  $("#incident-count").textContent = list.length ? `${open} open, ${list.length - open} resolved` : "";
  $("#no-incidents").hidden = list.length > 0;
}

function sloText(s) {
  const goal = s.kind === "latency" ? `${(s.objective * 100).toFixed(2)}% under ${s.latency_ms} ms`
    : `${(s.objective * 100).toFixed(2)}% success`;
  const left = s.budget_remaining === null ? "" : `, ${(s.budget_remaining * 100).toFixed(1)}% budget left`;
  const burn = s.burn ? `, burning ${s.burn}x` : "";
  return `${goal}: ${s.status}${burn}${left}`;
}

async function loadServices() {
  const list = await api("GET", "/api/services");
  const body = $("#services tbody");
  body.replaceChildren();
  for (const s of list) {
    const slos = document.createElement("div");
    for (const o of s.slos) {
      const line = document.createElement("div");
      line.textContent = sloText(o);
      line.className = o.status === "page" || o.status === "ticket" ? "error" : (o.status === "ok" ? "ok" : "");
      slos.appendChild(line);
    }
    const incs = document.createElement("div");
    for (const fp of s.incidents) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = fp.slice(0, 8);
      b.addEventListener("click", () => loadDetail(fp, true));
      incs.appendChild(b);
    }
    const path = s.in_topology ? [...s.devices, ...s.links].join(", ") : "(not in the topology)";
    body.appendChild(row([s.name, path, slos, incs], { service: s.name }));
  }
  $("#services").hidden = list.length === 0;
  $("#no-services").hidden = list.length > 0;
}

async function loadDetail(fp, fresh) {
  selected = fp;
  const inc = await api("GET", "/api/incidents/" + encodeURIComponent(fp));
  $("#detail").hidden = false;
  $("#d-title").textContent = inc.title;
  $("#d-meta").textContent = `${inc.status} · ${inc.severity} · opened ${fmt(inc.opened_ts)} · revision ${inc.revision} · ticket ${inc.ticket || "-"} · ${inc.fingerprint}`;
  const rk = $("#ranking tbody"); rk.replaceChildren();
  for (const rc of inc.root_causes) rk.appendChild(row([rc.entity, rc.kind, rc.fault, rc.score.toFixed(2), rc.evidence.join("; ")]));
  drawTimeline(inc);
  if (fresh) {
    try { drawTopology(await api("GET", "/api/incidents/" + encodeURIComponent(fp) + "/topology?hops=1")); }
    catch (e) { $("#topo").replaceChildren(); }
    $("#action-msg").textContent = "";
  }
  await loadActions(fp);
}

function drawTopology(g) {
  const svg = $("#topo"); svg.replaceChildren();
  const W = 420, H = 300, P = 40;
  const color = (x) => (x.root ? "#d93025" : x.affected ? "#f29900" : null);
  const at = {};
  for (const n of g.nodes) at[n.id] = [P + n.x * (W - 2 * P), P + n.y * (H - 2 * P)];
  for (const e of g.edges) {
    const [x1, y1] = at[e.a], [x2, y2] = at[e.b];
    svg.appendChild(svgEl("line", { x1, y1, x2, y2, stroke: color(e) || "#9aa3b2",
      "stroke-width": e.root ? 5 : e.affected ? 3 : 2, "data-link": e.id, "data-root": e.root }));
  }
  for (const n of g.nodes) {
    const [x, y] = at[n.id];
    svg.appendChild(svgEl("circle", { cx: x, cy: y, r: 9, fill: color(n) || "#4a7bd0", "data-node": n.id, "data-root": n.root }));
    svg.appendChild(svgEl("text", { x: x + (x > W - 90 ? -11 : 11), y: y - 9, "font-size": 11,
      "text-anchor": x > W - 90 ? "end" : "start" }, n.id));
  }
}

// Tick steps of the time axis, in seconds: the first that gives at most `max` ticks is used.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

function ticks(t0, t1, max) {
  const step = STEPS.find((s) => (t1 - t0) / s <= max) || 86400;
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return { step, out };
}

function clockText(ts, step) {
  const iso = new Date(ts * 1000).toISOString();
  return step < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
}

function shorten(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

// The incident's signals on one time axis (network time, UTC): a row per signal, a dot at its
// anomaly's onset sized by the anomaly's score, a bar while it is still active; dashed lines
// where the incident opened and where it resolved (or was last updated).
function drawTimeline(inc) {
  const svg = $("#timeline"); svg.replaceChildren();
  const t = inc.timeline;
  const W = 660, labelW = 280, right = 18, top = 46, rowH = 18;
  const H = top + Math.max(t.length, 1) * rowH + 44;
  svg.setAttribute("height", H); svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  if (!t.length) {
    svg.appendChild(svgEl("text", { x: 8, y: top, "font-size": 12, fill: "#555" }, "no signals recorded"));
    return;
  }
  const end = inc.status === "resolved" ? inc.updated_ts : Math.max(inc.updated_ts, ...t.map((a) => a.onset_ts));
  let t0 = Math.min(inc.opened_ts, ...t.map((a) => a.onset_ts)), t1 = Math.max(end, t0 + 60);
  const pad = (t1 - t0) * 0.04; t0 -= pad; t1 += pad;
  const x = (ts) => labelW + ((ts - t0) / (t1 - t0)) * (W - labelW - right);
  const yAxis = top + t.length * rowH + 2;

  // legend
  const lg = [["circle", { cx: 8, cy: 12, r: 5, fill: "#d93025" }, 18, "anomaly active"],
    ["circle", { cx: 128, cy: 12, r: 5, fill: "#2e7d32" }, 138, "cleared"],
    ["circle", { cx: 212, cy: 12, r: 3, fill: "#9aa3b2" }, 219, "→"],
    ["circle", { cx: 240, cy: 12, r: 7, fill: "#9aa3b2" }, 252, "score 0 → 1"]];
  for (const [shape, attrs, tx, label] of lg) {
    svg.appendChild(svgEl(shape, attrs));
    svg.appendChild(svgEl("text", { x: tx, y: 16, "font-size": 11, fill: "#333" }, label));
  }
  svg.appendChild(svgEl("line", { x1: 340, y1: 5, x2: 340, y2: 19, stroke: "#1d2330", "stroke-dasharray": "3 2" }));
  svg.appendChild(svgEl("text", { x: 346, y: 16, "font-size": 11, fill: "#333" }, "incident opened / resolved"));

  // row stripes first, so that the grid and the marks show through every row
  t.forEach((a, k) => {
    if (k % 2 === 0) svg.appendChild(svgEl("rect", { x: 0, y: top + k * rowH, width: W, height: rowH, fill: "#f0f2f5" }));
  });

  // grid and tick labels
  const { step, out } = ticks(t0, t1, 6);
  for (const tk of out) {
    svg.appendChild(svgEl("line", { x1: x(tk), y1: top - 6, x2: x(tk), y2: yAxis + 4, stroke: "#e3e6eb" }));
    svg.appendChild(svgEl("text", { x: x(tk), y: yAxis + 16, "font-size": 10, fill: "#555", "text-anchor": "middle", class: "tick" },
      clockText(tk, step)));
  }
  svg.appendChild(svgEl("line", { x1: labelW, y1: yAxis + 4, x2: W - right, y2: yAxis + 4, stroke: "#9aa3b2" }));
  svg.appendChild(svgEl("text", { x: W - right, y: yAxis + 34, "font-size": 10, fill: "#555", "text-anchor": "end", class: "axis-title" },
    `network time, UTC (${fmt(t0).slice(0, 10)}); a tick every ${step >= 60 ? step / 60 + " min" : step + " s"}`));

  // the incident's own moments
  const marks = [[inc.opened_ts, "opened"], [end, inc.status === "resolved" ? "resolved" : "last update"]];
  for (const [ts, label] of marks) {
    svg.appendChild(svgEl("line", { x1: x(ts), y1: top - 12, x2: x(ts), y2: yAxis + 4, stroke: "#1d2330", "stroke-dasharray": "3 2", class: "mark" }));
    const left = label === "opened" || x(ts) > W - right - 60;  // keep the label inside
    svg.appendChild(svgEl("text", { x: x(ts) + (left ? -3 : 3), y: top - 14, "font-size": 10, fill: "#1d2330",
      "text-anchor": left ? "end" : "start" }, label));
  }

  // one row per signal
  t.forEach((a, k) => {
    const y = top + k * rowH + rowH / 2;
    const name = `${a.entity} ${a.signal} ${a.kind}`;
    const label = svgEl("text", { x: 4, y: y + 4, "font-size": 11 }, shorten(name, 44));
    label.appendChild(svgEl("title", {}, name));
    svg.appendChild(label);
    const active = a.state === "active";
    if (active && end > a.onset_ts) {
      svg.appendChild(svgEl("rect", { x: x(a.onset_ts), y: y - 2, width: x(end) - x(a.onset_ts), height: 4, fill: "#d93025", opacity: 0.35 }));
    }
    const dot = svgEl("circle", { cx: x(a.onset_ts), cy: y, r: 3 + 4 * Math.min(Math.max(a.score, 0), 1),
      fill: active ? "#d93025" : "#2e7d32", "data-signal": name });
    dot.appendChild(svgEl("title", {}, `${name}: ${a.state}, score ${a.score.toFixed(2)}, onset ${fmt(a.onset_ts)} UTC`));
    svg.appendChild(dot);
  });
}

function decisionButtons(a, msg) {
  const cell = document.createElement("span");
  if (a.status === "proposed" && role !== "viewer") {
    for (const verb of ["approve", "reject"]) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = verb; b.className = verb; b.dataset.id = a.request_id;
      b.addEventListener("click", () => decide(a.request_id, verb, msg));
      cell.appendChild(b);
    }
  }
  return cell;
}

async function loadActions(fp) {
  const acts = await api("GET", "/api/actions?incident=" + encodeURIComponent(fp));
  const body = $("#actions tbody"); body.replaceChildren();
  for (const a of acts) {
    const status = a.status + (a.decided_by ? " by " + a.decided_by : "") + (a.outcome ? " (" + a.outcome + ")" : "");
    body.appendChild(row([a.action, a.target, String(a.level), a.reason, status, decisionButtons(a, "#action-msg")],
      { id: a.request_id, status: a.status }));
  }
}

// Every proposal still waiting for a human, on top of the page: the twin's faults clear by
// themselves after a while, and a proposal whose incident resolves is cancelled.
async function loadPending() {
  const acts = await api("GET", "/api/actions?status=proposed");
  const titles = {};
  for (const i of lastIncidents) titles[i.fingerprint] = i.title;
  const body = $("#pending tbody"); body.replaceChildren();
  for (const a of acts) {
    const link = document.createElement("a");
    link.href = "#"; link.textContent = titles[a.incident] || a.incident;
    link.addEventListener("click", (ev) => { ev.preventDefault(); loadDetail(a.incident, true); });
    const cell = decisionButtons(a, "#pending-msg");
    if (role === "viewer") cell.textContent = "an operator decides";
    body.appendChild(row([fmt(a.proposed_ts), a.action, a.target, link, a.reason, cell], { id: a.request_id }));
  }
  $("#pending-panel").hidden = acts.length === 0;
}

async function decide(id, verb, msg) {
  try {
    await api("POST", `/api/actions/${encodeURIComponent(id)}/${verb}`, { reason: "from the console" });
    $(msg || "#action-msg").textContent = "";
  } catch (e) { $(msg || "#action-msg").textContent = e.message; }
  await refresh();
}

async function loadBreaker() {
  const b = await api("GET", "/api/breaker");
  $("#breaker-state").textContent = b.open ? "OPEN" : "closed";
  $("#breaker-state").className = b.open ? "error" : "ok";
  const btn = $("#breaker-toggle");
  btn.textContent = b.open ? "reset" : "trip";
  btn.disabled = b.open ? role !== "admin" : role === "viewer";
  btn.dataset.open = b.open;
}

async function toggleBreaker() {
  const open = $("#breaker-toggle").dataset.open === "true";
  try { await api("POST", open ? "/api/breaker/reset" : "/api/breaker/trip", { reason: "from the console" }); }
  catch (e) { alert(e.message); }
  await refresh();
}

// The fields of an audit record's detail that say most, in this order; the rest follow.
const FIRST = ["ticket", "action", "target", "approval", "result", "why", "reason", "root_cause", "fault", "confidence"];

function detailLine(d) {
  const keys = [...FIRST.filter((k) => k in d), ...Object.keys(d).filter((k) => !FIRST.includes(k)).sort()];
  const parts = [];
  for (const k of keys) {
    const v = d[k];
    if (v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    parts.push(`${k.replace(/_/g, " ")} ${typeof v === "object" ? JSON.stringify(v) : v}`);
  }
  return parts.join(" · ");
}

async function loadAudit() {
  const recs = await api("GET", "/api/audit?limit=50");
  const open = new Set([...document.querySelectorAll("#audit details[open]")].map((e) => e.dataset.seq));
  const body = $("#audit tbody"); body.replaceChildren();
  for (const r of recs) {
    const more = document.createElement("details");
    more.dataset.seq = r.seq; more.open = open.has(String(r.seq));
    const line = document.createElement("summary");
    line.textContent = detailLine(r.detail) || "-";
    const all = document.createElement("pre");
    all.textContent = JSON.stringify(r.detail, null, 2);
    more.append(line, all);
    const tr = row([String(r.seq), fmt(r.ts), r.actor, r.action, r.subject, more],
      { seq: r.seq, action: r.action, request: r.detail.request_id || "" });
    tr.children[5].className = "detail";
    body.appendChild(tr);
  }
}

async function verify() {
  const v = await api("GET", "/api/audit/verify");
  $("#verify-result").textContent = v.ok ? `verified (${v.records} records)` : "BROKEN: " + v.problems.join("; ");
  $("#verify-result").className = v.ok ? "ok" : "error";
}

$("#login-form").addEventListener("submit", login);
$("#logout").addEventListener("click", () => logout(""));
$("#breaker-toggle").addEventListener("click", toggleBreaker);
$("#verify").addEventListener("click", verify);
if (token) login();
setInterval(refresh, 2000);
setInterval(() => { if (token && lastOk) showLive(); }, 1000);
