// NetVigil console: prevention and earned autonomy (risks, preemptive changes, each domain's
// track record, operators' judgements and suppressions). Loaded after console.js, whose
// helpers ($, api, row, fmt, token, role, selected) it uses; text goes in with textContent.
"use strict";

function btn(label, onclick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; b.addEventListener("click", onclick);
  return b;
}

function until(ts) {
  const s = Math.round(ts - Date.now() / 1000);
  if (Math.abs(s) > 7 * 86400) return "";
  return s >= 0 ? `in ${Math.round(s / 60)} min` : `${Math.round(-s / 60)} min ago`;
}

function pct(v) { return v === null || v === undefined ? "-" : (100 * v).toFixed(0) + " %"; }

async function judge(kind, id, verdict) {
  const msg = $("#prevention-msg");
  try {
    await api("POST", `/api/${kind}/${encodeURIComponent(id)}/judgement`,
      { verdict, reason: "from the console", scope: "pattern" });
    msg.textContent = `${kind.slice(0, -1)} ${id} marked ${verdict}; NetVigil takes it up on its next poll`;
    msg.className = "ok";
  } catch (e) { msg.textContent = e.message; msg.className = "error"; }
  refreshPrevention();
}

async function loadRisks() {
  const list = await api("GET", "/api/risks");
  const body = $("#risks tbody");
  body.replaceChildren();
  for (const r of list.slice(0, 50)) {
    const c = r.change;
    const change = c ? `${c.action} L${c.level}: ${c.status}` + (c.withdrawn ? " (withdrawn)" : "")
      : (r.plan.chosen === null && r.plan.candidates ? "none passes the twin" : "");
    const approve = c && c.level === 1 && c.approve_by ? fmt(c.approve_by) : "";
    const cells = [fmt(r.predicted_ts), until(r.predicted_ts), r.kind, r.entity,
      r.confidence.toFixed(2), r.services.join(", "), change, approve, r.outcome, r.ticket];
    const actions = document.createElement("span");
    if (r.outcome === "pending" && role !== "viewer") {
      const no = btn("false", () => judge("risks", r.risk_id, "false"));
      no.className = "judge-false";
      actions.append(no, " ", btn("confirm", () => judge("risks", r.risk_id, "confirmed")));
    }
    const tr = row([...cells, actions], { risk: r.risk_id });
    tr.className = "outcome-" + r.outcome;
    body.appendChild(tr);
  }
}

async function promote(domain, phase) {
  const msg = $("#prevention-msg");
  try {
    await api("POST", `/api/record/${encodeURIComponent(domain)}/promote`,
      { phase, reason: "confirmed in the console" });
    msg.textContent = `domain ${domain} promoted to ${phase}`; msg.className = "ok";
  } catch (e) { msg.textContent = e.message; msg.className = "error"; }
  refreshPrevention();
}

async function loadRecord() {
  const rows = await api("GET", "/api/record");
  const body = $("#record tbody");
  body.replaceChildren();
  for (const d of rows) {
    const o = d.outcomes;
    const share = (k) => o[k].judged ? `${pct(o[k].rate)} (${o[k].ok}/${o[k].judged})` : "-";
    let verdict = d.next_phase === null ? "highest phase" : "";
    const act = document.createElement("span");
    if (d.next_phase !== null) {
      if (d.earned === null) verdict = "no requirement in the policy";
      else if (d.promotion_earned) {
        verdict = d.next_phase + " earned";
        if (role === "admin") act.append(btn("confirm promotion", () => promote(d.domain, d.next_phase)));
      } else verdict = d.next_phase + " not earned: " + d.missing.join("; ");
    }
    const phase = d.phase + (d.fallback ? ` (fell back)` : "");
    body.appendChild(row([d.domain, phase, d.days.toFixed(1), share("incident"), share("prediction"),
      share("harm"), share("proposal"), o.recommendation.ok, share("change"), verdict, act],
      { domain: d.domain }));
  }
}

async function lift(id) {
  const msg = $("#prevention-msg");
  try {
    await api("POST", `/api/suppressions/${encodeURIComponent(id)}/lift`, { reason: "from the console" });
    msg.textContent = `suppression ${id} lifted`; msg.className = "ok";
  } catch (e) { msg.textContent = e.message; msg.className = "error"; }
  refreshPrevention();
}

async function loadSuppressions() {
  const list = await api("GET", "/api/suppressions");
  const body = $("#suppressions tbody");
  body.replaceChildren();
  for (const s of list) {
    const act = document.createElement("span");
    if (s.active && role !== "viewer") act.append(btn("lift", () => lift(s.id)));
    body.appendChild(row([s.pattern, s.made_by, fmt(s.created_ts), s.hits, fmt(s.last_hit_ts),
      s.active ? "active" : "lifted by " + s.lifted_by, act], { sup: s.id }));
  }
}

function feedbackBox() {
  // the incident's judgement, under the detail console.js draws
  let box = $("#feedback-box");
  if (!box) {
    box = document.createElement("p");
    box.id = "feedback-box";
    $("#detail").appendChild(box);
  }
  box.replaceChildren();
  if (typeof selected !== "string" || !selected || role === "viewer") return;
  const fp = selected;
  box.append("Judge this incident: ",
    btn("false (suppress its pattern)", () => judge("incidents", fp, "false")), " ",
    btn("confirmed", () => judge("incidents", fp, "confirmed")));
}

async function refreshPrevention() {
  if (!token || $("#app").hidden) return;
  try {
    await Promise.all([loadRisks(), loadRecord(), loadSuppressions()]);
    feedbackBox();
    for (const id of ["#risks-panel", "#record-panel", "#suppressions-panel"]) $(id).hidden = false;
  } catch (e) {
    if (e.status === 503) {  // a console without the prevention stores
      for (const id of ["#risks-panel", "#record-panel", "#suppressions-panel"]) $(id).hidden = true;
    }
  }
}

setInterval(refreshPrevention, 2000);
refreshPrevention();
