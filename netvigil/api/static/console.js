// NetVigil operator console: plain JS, no build step. Text goes in with textContent only.
"use strict";
const $ = (sel) => document.querySelector(sel);
const SVGNS = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("nv-token") || "";
let role = "";
let selected = null;

function fmt(ts) { return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }

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
}

async function refresh() {
  if (!token) return;
  try {
    await Promise.all([loadIncidents(), loadServices(), loadBreaker(), loadAudit()]);
    if (selected) await loadDetail(selected, false);
    $("#refreshed").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) { /* shown by the handlers; retry on the next tick */ }
}

async function loadIncidents() {
  const list = await api("GET", "/api/incidents?limit=100");
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

function drawTimeline(inc) {
  const svg = $("#timeline"); svg.replaceChildren();
  const t = inc.timeline; if (!t.length) return;
  const W = 560, left = 300, rowH = 18;
  svg.setAttribute("height", Math.max(60, 30 + t.length * rowH));
  const t0 = Math.min(...t.map((a) => a.onset_ts)), t1 = Math.max(inc.updated_ts, t0 + 1);
  const xs = (ts) => left + ((ts - t0) / (t1 - t0)) * (W - left - 20);
  t.forEach((a, k) => {
    const y = 20 + k * rowH;
    svg.appendChild(svgEl("text", { x: 4, y: y + 4, "font-size": 11 }, `${a.entity} ${a.signal} ${a.kind}`));
    svg.appendChild(svgEl("circle", { cx: xs(a.onset_ts), cy: y, r: 5, fill: a.state === "active" ? "#d93025" : "#2e7d32" }));
  });
  svg.appendChild(svgEl("text", { x: left, y: 30 + t.length * rowH - 4, "font-size": 10, fill: "#666" },
    `${fmt(t0)} → ${fmt(t1)}`));
}

async function loadActions(fp) {
  const acts = await api("GET", "/api/actions?incident=" + encodeURIComponent(fp));
  const body = $("#actions tbody"); body.replaceChildren();
  for (const a of acts) {
    const cell = document.createElement("span");
    if (a.status === "proposed" && role !== "viewer") {
      for (const verb of ["approve", "reject"]) {
        const b = document.createElement("button");
        b.textContent = verb; b.className = verb; b.dataset.id = a.request_id;
        b.addEventListener("click", () => decide(a.request_id, verb));
        cell.appendChild(b);
      }
    }
    const status = a.status + (a.decided_by ? " by " + a.decided_by : "") + (a.outcome ? " (" + a.outcome + ")" : "");
    body.appendChild(row([a.action, a.target, String(a.level), a.reason, status, cell], { id: a.request_id, status: a.status }));
  }
}

async function decide(id, verb) {
  try {
    await api("POST", `/api/actions/${encodeURIComponent(id)}/${verb}`, { reason: "from the console" });
    $("#action-msg").textContent = "";
  } catch (e) { $("#action-msg").textContent = e.message; }
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

async function loadAudit() {
  const recs = await api("GET", "/api/audit?limit=50");
  const body = $("#audit tbody"); body.replaceChildren();
  for (const r of recs) {
    const tr = row([String(r.seq), fmt(r.ts), r.actor, r.action, r.subject, JSON.stringify(r.detail)],
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
