// Sentinel dashboard: the control planes' decisions and the judge's verdicts.
// Loaded before dashboard.js, whose state (newState) carries `planes` and `verdicts` and whose
// apply() hands control.* and judge.* events here; drawn from the state at the scrubber's cut,
// so time travel shows what had been decided and judged by then.
"use strict";

const PLANE_RECENT = 12; // eventful decisions kept per plane (fired, acted, verified, rolled back)
const JUDGE_ROWS = 60; // verdict rows drawn (alerts and failures first)
const PLANE_ORDER = ["agent", "platform", "api"];

function newPlane() {
  return { decisions: 0, fired: 0, actions: 0, errors: 0, monitored: 0, successful: 0, failed: 0,
    inconclusive: 0, rollbacks: 0, recent: [] };
}

// One control.* or judge.* event into the state; false when it is neither.
function applyControl(state, ev, doc, p) {
  if (ev.type === "control.policy") {
    state.policyRevision = String(p.revision || "");
  } else if (ev.type === "control.decision") {
    const name = String(p.plane || ev.stream.split("/")[1] || "?");
    const plane = state.planes[name] || (state.planes[name] = newPlane());
    const fired = Array.isArray(p.fired) ? p.fired : [];
    const actions = Array.isArray(p.actions) ? p.actions : [];
    const verifications = Array.isArray(p.verifications) ? p.verifications : [];
    const rollbacks = Array.isArray(p.rollbacks) ? p.rollbacks : [];
    const monitored = Array.isArray(p.monitored) ? p.monitored : [];
    plane.decisions += 1;
    plane.fired += fired.reduce((n, f) => n + (Array.isArray(f.targets) ? f.targets.length : 0), 0);
    plane.actions += actions.filter((a) => a.status === "applied").length;
    plane.errors += actions.filter((a) => a.status === "error").length;
    plane.monitored += monitored.length;
    for (const v of verifications) {
      if (v.verdict === "Successful") plane.successful += 1;
      else if (v.verdict === "Failed") plane.failed += 1;
      else plane.inconclusive += 1;
    }
    plane.rollbacks += rollbacks.length;
    if (fired.length || actions.length || verifications.length || rollbacks.length || monitored.length) {
      push(plane.recent, { tick: doc.tick, id: p.decision_id, fired, actions, verifications, monitored }, PLANE_RECENT);
    }
    state.controlVersion += 1;
  } else if (ev.type === "judge.verdict") {
    state.verdicts[p.agent_id + "\u0000" + p.evaluation] = { tick: doc.tick, agent: String(p.agent_id), evaluation: String(p.evaluation),
      status: String(p.status), score: Number(p.score), severity: String(p.severity), alert: !!p.alert, route: String(p.route || ""),
      summary: String(p.summary || "") };
    state.judged += 1;
    state.judgeVersion += 1;
  } else {
    return false;
  }
  return true;
}

function decisionRow(d) {
  const fired = d.fired.map((f) => esc(f.rule) + (f.mode === "monitor" ? " (monitor)" : "") + " ×" + (f.targets || []).length).join(", ");
  const actions = d.actions.map((a) => "<span class=\"action-" + esc(a.status) + "\">" + esc(a.action) + " " + esc(a.target) +
    ": " + esc(a.status) + "</span>").join("; ");
  const verdicts = d.verifications.map((v) => "<span class=\"verdict-" + esc(String(v.verdict).toLowerCase()) + "\">" + esc(v.verdict) +
    "</span> " + esc(v.rule) + " " + esc(v.target) + (v.rollback ? " → <b class=\"rollback\">rolled back (" + esc(v.rollback.status) + ")</b>" : "")).join("; ");
  const would = d.monitored.map((m) => esc(m.action) + " " + esc(m.target)).join("; ");
  return "<tr data-decision=\"" + esc(d.id) + "\"><td>" + esc(d.tick) + "</td><td>" + (fired || "") + "</td><td>" + (actions || (would ? "<i>would: " + would + "</i>" : "")) +
    "</td><td>" + verdicts + "</td></tr>";
}

const drawnPanels = { control: null, judge: null };

function drawControl(s) {
  if (drawnPanels.control && drawnPanels.control[0] === s && drawnPanels.control[1] === s.controlVersion) return;
  drawnPanels.control = [s, s.controlVersion];
  const body = document.getElementById("control-body");
  const names = Object.keys(s.planes).sort((x, y) => {
    const i = PLANE_ORDER.indexOf(x), j = PLANE_ORDER.indexOf(y);
    return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || (x < y ? -1 : 1);
  });
  if (!names.length) { setHtml(body, "<span class=\"muted\">No control decisions yet.</span>"); return; }
  setHtml(body, (s.policyRevision ? "<div class=\"muted\">policy " + esc(s.policyRevision) + "</div>" : "") + names.map((name) => {
    const p = s.planes[name];
    const recent = p.recent.slice().reverse().map(decisionRow).join("");
    return "<div class=\"plane\" data-plane=\"" + esc(name) + "\"><h3>" + esc(name) + " plane</h3>" +
      "<div data-testid=\"plane-counts\">" + p.decisions + " decisions · " + p.fired + " fired · " + p.actions + " acted" +
      (p.errors ? " (" + p.errors + " errors)" : "") + " · " + p.monitored + " monitored · verdicts " +
      p.successful + " ok / " + p.failed + " failed / " + p.inconclusive + " inconclusive · " + p.rollbacks + " rolled back</div>" +
      (recent ? "<table><thead><tr><th>tick</th><th>rules fired</th><th>action</th><th>verdict, rollback</th></tr></thead><tbody>" +
        recent + "</tbody></table>" : "") + "</div>";
  }).join(""));
}

function verdictRank(v) {
  return v.alert ? 0 : v.status === "failed" ? 1 : v.status === "passed" ? 2 : 3;
}

function drawJudge(s) {
  if (drawnPanels.judge && drawnPanels.judge[0] === s && drawnPanels.judge[1] === s.judgeVersion) return;
  drawnPanels.judge = [s, s.judgeVersion];
  const body = document.getElementById("judge-body");
  const all = Object.values(s.verdicts);
  if (!all.length) { setHtml(body, "<span class=\"muted\">No verdicts yet.</span>"); return; }
  all.sort((x, y) => verdictRank(x) - verdictRank(y) || (x.agent < y.agent ? -1 : x.agent > y.agent ? 1 : x.evaluation < y.evaluation ? -1 : 1));
  const count = (f) => all.filter(f).length;
  const rows = all.slice(0, JUDGE_ROWS).map((v) =>
    "<tr data-agent=\"" + esc(v.agent) + "\" data-evaluation=\"" + esc(v.evaluation) + "\" data-status=\"" + esc(v.status) + "\"" +
    (v.alert ? " class=\"alert\"" : "") + "><td>" + esc(v.agent) + "</td><td>" + esc(v.evaluation) + "</td><td class=\"verdict-" +
    (v.status === "failed" ? "fail" : v.status === "passed" ? "pass" : "none") + "\">" + esc(v.status) + "</td><td>" + v.score.toFixed(2) +
    "</td><td>" + esc(v.severity) + "</td><td>" + esc(v.route) + "</td><td title=\"" + esc(v.summary) + "\">" + esc(v.summary) + "</td></tr>").join("");
  setHtml(body, "<div data-testid=\"judge-counts\">" + s.judged + " verdicts · latest per agent and evaluation: " +
    count((v) => v.status === "passed") + " passed, " + count((v) => v.status === "failed") + " failed (" + count((v) => v.alert) +
    " alerts), " + count((v) => v.status === "insufficient_data") + " insufficient data</div>" +
    "<table><thead><tr><th>agent</th><th>evaluation</th><th>status</th><th>score</th><th>severity</th><th>route</th><th>summary</th></tr></thead><tbody>" +
    rows + "</tbody></table>" + (all.length > JUDGE_ROWS ? "<div class=\"muted\">" + (all.length - JUDGE_ROWS) + " more</div>" : ""));
}

// The selected agent's latest verdicts, for the inspector.
function agentVerdicts(s, id) {
  return Object.values(s.verdicts).filter((v) => v.agent === id).sort((x, y) => (x.evaluation < y.evaluation ? -1 : 1)).map((v) =>
    "<li>t" + esc(v.tick) + " " + esc(v.evaluation) + ": <b class=\"verdict-" + (v.status === "failed" ? "fail" : v.status === "passed" ? "pass" : "none") +
    "\">" + esc(v.status) + "</b> " + v.score.toFixed(2) + " (" + esc(v.severity) + ")</li>").join("");
}
