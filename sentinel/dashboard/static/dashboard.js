// Sentinel dashboard: one page, no build step, no third-party code.
// State is rebuilt from the audit events alone (world.snapshot for rooms and agents, the
// other events for decisions, tools, gateway, control, judge and operator actions); every
// event's chain link is recomputed here with WebCrypto (docs/audit-format.md section 3).
"use strict";

const ZERO_HASH = "0".repeat(64);
const TIMELINE_ROWS = 100; // rows drawn; filters pick among all events
const RECENT = 8; // decisions and tool calls kept per agent for the inspector
const LATENCY_CAP = 200000;

const dash = {
  events: [], // every event received, by position: {position, type, stream, canonical, hash, prev_hash, doc, link}
  layout: null,
  info: null,
  state: null, // the state at `cut` (live: the last event)
  cut: -1,
  live: true,
  selected: null,
  dirty: false,
  pendingLatency: [], // events drawn in the next frame whose latency is measured
  verified: 0,
  broken: null,
  connectedMs: 0,
};
window.sentinelDashboard = dash;
window.sentinelLatencies = []; // ms from an event's wall_ns (stored) to the frame showing it
window.sentinelArrivals = []; // ms from an event's wall_ns to its arrival in this page (diagnosis)

// ---- state -----------------------------------------------------------------------------

function newState() {
  return { tick: 0, clock: "--:--", rooms: {}, agents: {}, rules: {}, cost: 0, modelCalls: 0,
    synthesizedCalls: 0, planes: {}, verdicts: {}, judged: 0, policyRevision: "", controlVersion: 0, judgeVersion: 0,
    operator: [], paused: false, types: new Set() };
}

function agentOf(state, id) {
  if (!id) return null;
  let a = state.agents[id];
  if (!a) {
    a = state.agents[id] = { id, room: null, onDuty: false, needs: {}, emotion: "", valence: 0,
      arousal: 0, task: "", walkingTo: "", decisions: [], tools: [], violations: [],
      sandbox: { runs: 0, failed: 0, cpu_s: 0, violations: 0 }, cost: 0, attacks: 0,
      quarantined: false };
  }
  return a;
}

function eventAgent(ev) {
  const p = (ev.doc && ev.doc.payload) || {};
  if (typeof p.agent_id === "string") return p.agent_id;
  if (typeof p.speaker === "string") return p.speaker;
  if (ev.stream.startsWith("agent/")) return ev.stream.slice(6);
  return "";
}

function push(list, item, keep) {
  list.push(item);
  if (list.length > keep) list.shift();
}

function apply(state, ev) {
  const doc = ev.doc;
  if (!doc) return;
  const p = doc.payload || {};
  if (typeof doc.tick === "number") state.tick = doc.tick;
  state.types.add(ev.type);
  const a = agentOf(state, eventAgent(ev));
  switch (ev.type) {
    case "world.snapshot": {
      state.clock = p.clock;
      const r = p.rooms || {};
      (r.room || []).forEach((id, i) => {
        state.rooms[id] = { occupancy: r.occupancy[i], temperature: r.temperature[i],
          co2: r.co2_ppm[i], noise: r.noise_db[i] };
      });
      const ag = p.agents || {};
      const on = new Set(ag.agent_id || []);
      for (const x of Object.values(state.agents)) if (!on.has(x.id)) x.onDuty = false;
      (ag.agent_id || []).forEach((id, i) => {
        const x = agentOf(state, id);
        x.onDuty = true;
        if (ag.room[i] !== null) { x.room = ag.room[i]; x.walkingTo = ""; }
        for (const k of ["hunger", "energy", "bladder", "stress", "social", "caffeine_mg"]) x.needs[k] = ag[k][i];
        x.emotion = ag.emotion[i]; x.valence = ag.valence[i]; x.arousal = ag.arousal[i];
      });
      break;
    }
    case "agent.lifecycle":
      if (a) a.onDuty = p.change === "spawned" || p.change === "resumed" || p.change === "restarted";
      break;
    case "runtime.decision": {
      if (a) {
        push(a.decisions, { tick: doc.tick, kind: p.kind, decision: p.decision, rule: p.rule,
          actions: (p.actions || []).map((x) => x.action_type + (x.target ? " " + x.target : "")).join(", ") }, RECENT);
        a.cost += p.cost_usd || 0;
        if (p.kind === "task") a.task = "ticket (" + p.decision + ")";
      }
      const rule = p.rule || "(none)";
      const row = state.rules[rule] || (state.rules[rule] = { synthesized: 0, forwarded: 0, learned: 0, refused: 0, cost: 0 });
      row[p.decision] = (row[p.decision] || 0) + 1;
      row.cost += p.cost_usd || 0;
      state.cost += p.cost_usd || 0;
      break;
    }
    case "gateway.model_call":
      state.modelCalls += 1;
      if (p.synthesized) state.synthesizedCalls += 1;
      break;
    case "runtime.tool_result":
      if (a) push(a.tools, { tick: doc.tick, tool: p.tool, command: p.command, exit: p.exit_code,
        output: String(p.output || "").slice(0, 600), violations: p.violations }, RECENT);
      break;
    case "sandbox.executed":
      if (a) { a.sandbox.runs += 1; if (p.exit_code !== 0) a.sandbox.failed += 1; a.sandbox.cpu_s += p.cpu_s || 0; }
      break;
    case "sandbox.violation":
      if (a) { a.sandbox.violations += 1; push(a.violations, { tick: doc.tick, layer: p.layer, attempt: p.attempt }, RECENT); }
      break;
    case "runtime.attack":
      if (a) a.attacks += 1;
      break;
    case "world.action":
      if (a) {
        if (p.action_type === "move" && p.target) a.walkingTo = p.target;
        if (p.action_type === "work" || p.action_type === "tool_use") a.task = p.action_type + ": " + String(p.content || p.target || "").slice(0, 80);
      }
      break;
    case "runtime.world_action":
      if (a && p.room) a.room = p.room;
      break;
    case "runtime.conversation": {
      if (a && p.room) a.room = p.room;
      const b = agentOf(state, p.addressee);
      if (b && p.room) b.room = p.room;
      break;
    }
    case "operator.action":
      push(state.operator, { tick: doc.tick, action: p.action, target: p.target, decision: p.decision, reason: p.reason }, 50);
      if (p.decision === "accepted") {
        if (p.action === "pause") state.paused = true;
        if (p.action === "resume") state.paused = false;
        if (p.action === "quarantine") agentOf(state, p.target).quarantined = true;
      }
      break;
    default:
      applyControl(state, ev, doc, p); // planes.js: control.* and judge.* events
  }
}

function rebuild(upTo) {
  const state = newState();
  for (let i = 0; i <= upTo && i < dash.events.length; i++) apply(state, dash.events[i]);
  return state;
}

// ---- chain verification (WebCrypto SHA-256) ---------------------------------------------

function hexBytes(hex) {
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesHex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function checkLink(ev) {
  // hash(i) = SHA-256(hash(i-1) || canonical(i)), with hash(i-1) the stored hash before it.
  const prevHex = ev.position === 0 ? ZERO_HASH : (dash.events[ev.position - 1] || {}).hash;
  const prev = hexBytes(prevHex);
  if (!prev) return "the previous event's stored hash is not 32 bytes";
  if (!ev.doc) return "the stored bytes are not JSON";
  if (ev.doc.position !== ev.position) return "position member differs from the row";
  if (ev.doc.prev_hash !== prevHex) return "prev_hash member does not name the previous hash";
  if (ev.prev_hash !== prevHex) return "prev_hash column does not name the previous hash";
  const body = new TextEncoder().encode(ev.canonical);
  const data = new Uint8Array(32 + body.length);
  data.set(prev, 0);
  data.set(body, 32);
  const digest = bytesHex(await crypto.subtle.digest("SHA-256", data));
  if (digest !== ev.hash) return "SHA-256 differs from the stored hash (computed " + digest.slice(0, 16) + "…)";
  return "";
}

async function verify(batch) {
  if (!(window.crypto && crypto.subtle)) {
    setChain("bad", "chain: cannot verify (WebCrypto needs a secure context: use loopback or HTTPS)");
    return;
  }
  const results = await Promise.all(batch.map(checkLink));
  batch.forEach((ev, i) => {
    ev.link = results[i] ? "bad" : "ok";
    ev.linkReason = results[i];
    if (results[i]) { if (dash.broken === null || ev.position < dash.broken) dash.broken = ev.position; }
    else dash.verified += 1;
  });
  if (dash.broken !== null) setChain("bad", "chain: BROKEN at #" + dash.broken + " (" + dash.events[dash.broken].linkReason + ")");
  else setChain("ok", "chain: " + dash.verified + " links verified");
  markLinks(batch);
}

function setChain(kind, text) {
  const el = document.getElementById("chain");
  el.className = "badge " + kind;
  el.textContent = text;
}

// ---- receiving ---------------------------------------------------------------------------

function receive(rows) {
  const arrived = performance.timeOrigin + performance.now();
  const fresh = [];
  for (const row of rows) {
    if (row.position !== dash.events.length) continue; // a reconnect's repeat, or a gap (never expected)
    try { row.doc = JSON.parse(row.canonical); } catch (e) { row.doc = null; }
    row.link = "pending";
    dash.events.push(row);
    fresh.push(row);
    if (dash.live) apply(dash.state, row);
    if (row.doc && row.doc.wall_ns / 1e6 >= dash.connectedMs) {
      dash.pendingLatency.push(row.doc.wall_ns / 1e6);
      if (window.sentinelArrivals.length < LATENCY_CAP) window.sentinelArrivals.push(arrived - row.doc.wall_ns / 1e6);
    }
  }
  if (!fresh.length) return;
  if (dash.live) dash.cut = dash.events.length - 1;
  dash.dirty = true;
  schedule();
  verify(fresh);
}

function connect() {
  const source = new EventSource("/api/stream?after=" + (dash.events.length - 1));
  source.onopen = () => { dash.connectedMs = performance.timeOrigin + performance.now(); setMode(); };
  source.onmessage = (msg) => receive(JSON.parse(msg.data));
  source.onerror = () => { source.close(); setMode("reconnecting"); setTimeout(connect, 500); };
}

// ---- drawing -----------------------------------------------------------------------------

let frameRequested = false;
function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    if (dash.dirty) { dash.dirty = false; draw(); }
    const drawn = dash.pendingLatency;
    dash.pendingLatency = [];
    if (drawn.length) {
      // Measured at the start of the next frame, after this one was painted: an upper bound.
      requestAnimationFrame(() => {
        const now = performance.timeOrigin + performance.now();
        const out = window.sentinelLatencies;
        for (const wall of drawn) if (out.length < LATENCY_CAP) out.push(now - wall);
      });
    }
  });
}

// Writes only what changed: an unchanged panel costs the browser no layout and no paint.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const drawnHtml = new WeakMap();
function setHtml(el, html) {
  if (drawnHtml.get(el) !== html) { drawnHtml.set(el, html); el.innerHTML = html; }
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== String(value)) el.setAttribute(name, value);
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function setMode(text) {
  const el = document.getElementById("mode");
  setText(el, text || (dash.live ? (dash.state && dash.state.paused ? "live · paused" : "live") : "time travel"));
}

function draw() {
  const s = dash.state;
  setMode();
  setText(document.getElementById("clock"), s.clock + " · tick " + s.tick);
  setText(document.getElementById("count"), dash.events.length + " events");
  drawFloors(s);
  drawInspector(s);
  drawTimeline();
  drawGateway(s);
  drawControl(s);
  drawJudge(s);
  drawOperator(s);
  drawTravel();
  drawWorkspaces();
}

const SVG = "http://www.w3.org/2000/svg";
const plan = { rooms: {}, agents: {} }; // room id -> {x, y, w, h, svg}; agent id -> <g>

function svgEl(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function buildFloors() {
  const host = document.getElementById("floor-svgs");
  host.innerHTML = "";
  const rooms = dash.layout.rooms;
  const byId = Object.fromEntries(rooms.map((r) => [r.id, r]));
  const floors = [...new Set(rooms.map((r) => r.floor))].sort();
  for (const floor of floors) {
    const wrap = document.createElement("div");
    wrap.className = "floor";
    wrap.innerHTML = "<h3>" + (floor === 0 ? "Ground floor" : floor === 1 ? "Upper floor" : "Floor " + floor) + "</h3>";
    host.appendChild(wrap);
    const svg = svgEl("svg", { class: "plan", viewBox: "0 0 1000 330", "data-floor": floor }, wrap);
    const home = rooms.filter((r) => r.floor === floor);
    // A room of another floor with a door to this one (the stairwell) is drawn here too, dashed.
    const ghosts = rooms.filter((r) => r.floor !== floor && r.kind !== "corridor" && dash.layout.doors.some(
      ([x, y]) => (x === r.id && byId[y] && byId[y].floor === floor) || (y === r.id && byId[x] && byId[x].floor === floor)));
    const corridors = home.filter((r) => r.kind === "corridor");
    const others = home.filter((r) => r.kind !== "corridor").concat(ghosts);
    const top = others.filter((_, i) => i % 2 === 0);
    const bottom = others.filter((_, i) => i % 2 === 1);
    const place = (row, y, h) => {
      const total = row.reduce((n, r) => n + Math.sqrt(r.capacity) + 1, 0);
      let x = 5;
      for (const r of row) {
        const w = (990 - 4 * row.length) * (Math.sqrt(r.capacity) + 1) / total;
        addRoom(svg, r, x, y, w, h, r.floor !== floor);
        x += w + 4;
      }
    };
    place(top, 5, 135);
    place(corridors, 145, 40);
    place(bottom, 190, 135);
  }
}

function addRoom(svg, r, x, y, w, h, ghost) {
  const g = svgEl("g", { class: "room" + (ghost ? " ghost" : ""), "data-room": r.id }, svg);
  const rect = svgEl("rect", { x, y, width: w, height: h, rx: 3, fill: "#f9fafb" }, g);
  const name = svgEl("text", { x: x + 4, y: y + 12 }, g);
  name.textContent = r.name.length * 5.5 > w ? r.name.slice(0, Math.max(3, Math.floor(w / 5.5))) : r.name;
  const metrics = svgEl("text", { class: "metrics", x: x + 4, y: y + 23, "data-metrics": r.id }, g);
  if (!ghost) plan.rooms[r.id] = { x, y, w, h, rect, metrics, svg };
}

function co2Colour(ppm) {
  if (ppm === undefined) return "#f9fafb";
  if (ppm < 800) return "#dcfce7";
  if (ppm < 1200) return "#fef9c3";
  return "#fee2e2";
}

const EMOTION_COLOURS = { happy: "#facc15", content: "#86efac", calm: "#93c5fd", excited: "#fb923c",
  stressed: "#f87171", angry: "#dc2626", sad: "#a5b4fc", tired: "#d1d5db", bored: "#e5e7eb" };

function drawFloors(s) {
  for (const [id, r] of Object.entries(plan.rooms)) {
    const m = s.rooms[id];
    setAttr(r.rect, "fill", co2Colour(m && m.co2));
    const cap = (dash.layout.rooms.find((x) => x.id === id) || {}).capacity;
    setText(r.metrics, m ? m.occupancy + "/" + cap + " · " + Number(m.temperature).toFixed(1) + "°C · " +
      Math.round(m.co2) + " ppm · " + Math.round(m.noise) + " dB" : "");
  }
  const perRoom = {};
  for (const a of Object.values(s.agents)) {
    if (!a.onDuty || !a.room || !plan.rooms[a.room]) continue;
    (perRoom[a.room] = perRoom[a.room] || []).push(a);
  }
  const seen = new Set();
  for (const [roomId, list] of Object.entries(perRoom)) {
    const r = plan.rooms[roomId];
    const cols = Math.max(1, Math.floor((r.w - 8) / 14));
    list.sort((x, y) => (x.id < y.id ? -1 : 1)).forEach((a, i) => {
      const cx = r.x + 10 + (i % cols) * 14;
      const cy = r.y + 36 + Math.floor(i / cols) * 14;
      let g = plan.agents[a.id];
      if (!g || g.ownerSVGElement !== r.svg) {
        if (g) g.remove();
        g = svgEl("g", { class: "agent", "data-agent": a.id }, r.svg);
        svgEl("circle", { r: 5.5, cx: 0, cy: 0 }, g);
        svgEl("title", {}, g);
        g.addEventListener("click", () => select(a.id));
        plan.agents[a.id] = g;
      }
      const move = "translate(" + cx + "px," + cy + "px)";
      if (g.style.transform !== move) g.style.transform = move;
      setAttr(g.querySelector("circle"), "fill", EMOTION_COLOURS[a.emotion] || "#cbd5e1");
      setText(g.querySelector("title"), a.id + " " + ((dash.layout.personas[a.id] || {}).name || "") + " · " + a.emotion);
      g.classList.toggle("selected", a.id === dash.selected);
      g.classList.toggle("quarantined", a.quarantined);
      g.classList.toggle("violated", a.sandbox.violations > 0);
      if (g.dataset.room !== roomId) g.dataset.room = roomId;
      seen.add(a.id);
    });
  }
  for (const [id, g] of Object.entries(plan.agents)) if (!seen.has(id)) { g.remove(); delete plan.agents[id]; }
}

function select(id) {
  dash.selected = id;
  document.getElementById("agent-pick").value = id;
  dash.dirty = true;
  schedule();
}

function fillSelect(el, values, keep, labels) {
  const key = values.join("\u0000");
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.innerHTML = (keep || "") + values.map((v) => "<option value=\"" + esc(v) + "\">" + esc(labels ? labels(v) : v) + "</option>").join("");
}

function drawInspector(s) {
  const pick = document.getElementById("agent-pick");
  const ids = Object.keys(s.agents).filter((id) => dash.layout.personas[id]).sort();
  fillSelect(pick, ids, "<option value=\"\">choose</option>");
  pick.value = dash.selected || "";
  const body = document.getElementById("inspector-body");
  const a = dash.selected && s.agents[dash.selected];
  if (!a) { setHtml(body, dash.selected ? "No events for " + esc(dash.selected) + " yet." : "Click an agent on the floor plan."); return; }
  const who = dash.layout.personas[a.id] || {};
  const needs = Object.entries(a.needs).map(([k, v]) =>
    "<dt>" + esc(k) + "</dt><dd><span class=\"bar\" style=\"width:" + Math.min(100, Math.max(0, Number(v))) + "px\"></span> " + Number(v).toFixed(1) + "</dd>").join("");
  const decisions = a.decisions.slice().reverse().map((d) =>
    "<li>t" + d.tick + " " + esc(d.kind) + ": <b>" + esc(d.decision) + "</b> " + esc(d.rule || "") + (d.actions ? " → " + esc(d.actions) : "") + "</li>").join("");
  const tools = a.tools.slice().reverse().map((t) =>
    "<div>t" + t.tick + " <b>" + esc(t.tool) + "</b> <code>" + esc(t.command).slice(0, 120) + "</code> exit " + esc(t.exit) +
    (t.violations ? " · " + t.violations + " violations" : "") + "<pre>" + esc(t.output) + "</pre></div>").join("");
  const violations = a.violations.map((v) => "<li>t" + v.tick + " " + esc(v.layer) + ": " + esc(v.attempt) + "</li>").join("");
  setHtml(body,
    "<dl data-testid=\"inspector-fields\"><dt>agent</dt><dd>" + esc(a.id) + (a.quarantined ? " <b class=\"decision-refused\">QUARANTINED</b>" : "") + "</dd>" +
    "<dt>persona</dt><dd>" + esc(who.name || "") + ", " + esc(who.role || "") + " (" + esc(who.department || "") + ")</dd>" +
    "<dt>bio</dt><dd>" + esc(who.bio || "") + "</dd>" +
    "<dt>on duty</dt><dd>" + (a.onDuty ? "yes, in " + esc(a.room || "transit") : "no") + (a.walkingTo ? ", heading to " + esc(a.walkingTo) : "") + "</dd>" +
    "<dt>mood</dt><dd>" + esc(a.emotion) + " (valence " + Number(a.valence).toFixed(2) + ", arousal " + Number(a.arousal).toFixed(2) + ")</dd>" +
    "<dt>task</dt><dd>" + esc(a.task || "none") + "</dd>" +
    "<dt>budget</dt><dd>$" + a.cost.toFixed(4) + " spent</dd>" +
    "<dt>sandbox</dt><dd>" + a.sandbox.runs + " runs, " + a.sandbox.failed + " failed, " + a.sandbox.cpu_s.toFixed(2) + " s CPU, " +
    a.sandbox.violations + " violations, " + a.attacks + " attacks</dd>" + needs + "</dl>" +
    "<h4>Recent decisions</h4><ul>" + (decisions || "<li class=\"muted\">none</li>") + "</ul>" +
    "<h4>Tool calls</h4>" + (tools || "<div class=\"muted\">none</div>") +
    "<h4>Violations</h4><ul>" + (violations || "<li class=\"muted\">none</li>") + "</ul>" +
    "<h4>Judge</h4><ul data-testid=\"inspector-verdicts\">" + (agentVerdicts(s, a.id) || "<li class=\"muted\">no verdict yet</li>") + "</ul>");
}

// The timeline is the page's largest table: live, new rows are prepended and old ones
// dropped (DOM work in proportion to the new events); a filter or scrub rebuilds it.
const timeline = { key: null, top: -1, rows: new Map() };

function timelineRow(ev, agent) {
  const tr = document.createElement("tr");
  tr.dataset.position = ev.position;
  tr.innerHTML = "<td>" + ev.position + "</td><td>" + (ev.doc && ev.doc.tick !== null ? ev.doc.tick : "") + "</td><td>" + esc(ev.type) +
    "</td><td>" + esc(ev.stream) + "</td><td>" + esc(agent) + "</td><td class=\"hash\" title=\"" + esc(ev.hash) + "\">" +
    esc(String(ev.hash).slice(0, 16)) + "</td><td></td>";
  markLink(tr, ev);
  return tr;
}

function markLink(tr, ev) {
  tr.dataset.link = ev.link;
  tr.className = ev.link === "bad" ? "bad" : "";
  const cell = tr.lastChild;
  cell.className = "link-" + ev.link;
  cell.title = ev.linkReason || "";
  cell.textContent = ev.link === "ok" ? "✓" : ev.link === "bad" ? "✗" : "…";
}

function markLinks(batch) {
  for (const ev of batch) {
    const tr = timeline.rows.get(ev.position);
    if (tr) markLink(tr, ev);
  }
}

function drawTimeline() {
  const agentFilter = document.getElementById("filter-agent");
  const typeFilter = document.getElementById("filter-type");
  const s = dash.state;
  fillSelect(agentFilter, Object.keys(s.agents).sort(), "<option value=\"\">all agents</option>");
  fillSelect(typeFilter, [...s.types].sort(), "<option value=\"\">all types</option>");
  const wantAgent = agentFilter.value;
  const wantType = typeFilter.value;
  const cut = Math.min(dash.cut, dash.events.length - 1);
  const key = wantAgent + "\u0000" + wantType + "\u0000" + (dash.live ? "live" : cut);
  const body = document.getElementById("timeline-rows");
  let stop = timeline.top;
  if (key !== timeline.key) {
    body.textContent = "";
    timeline.rows.clear();
    timeline.key = key;
    stop = -1;
  }
  const fresh = document.createDocumentFragment();
  let added = 0;
  for (let i = cut; i > stop && added < TIMELINE_ROWS; i--) {
    const ev = dash.events[i];
    const agent = eventAgent(ev);
    if (wantAgent && agent !== wantAgent) continue;
    if (wantType && ev.type !== wantType) continue;
    const tr = timelineRow(ev, agent);
    timeline.rows.set(ev.position, tr);
    fresh.appendChild(tr);
    added += 1;
  }
  body.insertBefore(fresh, body.firstChild);
  timeline.top = cut;
  while (body.rows.length > TIMELINE_ROWS) {
    const last = body.lastChild;
    timeline.rows.delete(Number(last.dataset.position));
    last.remove();
  }
}

function drawGateway(s) {
  const rules = Object.entries(s.rules).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  if (!rules.length) return;
  const body = rules.map(([rule, r]) =>
    "<tr data-rule=\"" + esc(rule) + "\"><td>" + esc(rule) + "</td><td>" + r.synthesized + "</td><td>" + r.forwarded + "</td><td>" +
    r.learned + "</td><td>" + r.refused + "</td><td>$" + r.cost.toFixed(4) + "</td></tr>").join("");
  setHtml(document.getElementById("gateway-body"),
    "<div data-testid=\"gateway-totals\">cost $" + s.cost.toFixed(4) + " · " + s.modelCalls + " model calls (" + s.synthesizedCalls + " synthesized)</div>" +
    "<table><thead><tr><th>rule</th><th>synth.</th><th>fwd.</th><th>learned</th><th>refused</th><th>cost</th></tr></thead><tbody>" + body + "</tbody></table>");
}

function drawOperator(s) {
  const attached = dash.info && dash.info.attached;
  document.getElementById("operator-off").hidden = !!attached;
  document.getElementById("operator-on").hidden = !attached;
  if (attached) {
    const onDuty = Object.values(s.agents).filter((a) => a.onDuty && !a.quarantined).map((a) => a.id).sort();
    fillSelect(document.getElementById("quarantine-agent"), onDuty);
    fillSelect(document.getElementById("chaos-kind"), dash.layout.chaos.map((c) => c.name));
    fillSelect(document.getElementById("chaos-room"), dash.layout.rooms.map((r) => r.id));
  }
  setHtml(document.getElementById("operator-log"), s.operator.slice().reverse().map((o) =>
    "<li>t" + o.tick + " " + esc(o.action) + (o.target ? " " + esc(o.target) : "") + ": <span class=\"decision-" + esc(o.decision) + "\">" +
    esc(o.decision) + "</span>" + (o.reason ? " (" + esc(o.reason) + ")" : "") + "</li>").join(""));
}

function drawTravel() {
  const scrub = document.getElementById("scrubber");
  const max = String(Math.max(0, dash.events.length - 1));
  if (scrub.max !== max) scrub.max = max;
  if (dash.live && scrub.value !== max) scrub.value = max;
  const ev = dash.events[dash.cut];
  setText(document.getElementById("travel-label"), dash.live ? "following the run (" + dash.events.length + " events)" :
    "at event #" + dash.cut + " of " + dash.events.length + ", tick " + (ev && ev.doc ? ev.doc.tick : "?") + ", " + dash.state.clock);
}

async function operatorAction(action) {
  const body = { action };
  if (action === "quarantine") body.target = document.getElementById("quarantine-agent").value;
  if (action === "chaos") {
    body.target = document.getElementById("chaos-kind").value;
    body.room = document.getElementById("chaos-room").value;
  }
  const out = document.getElementById("operator-result");
  out.textContent = action + "…";
  const response = await fetch("/api/operator", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + document.getElementById("token").value },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  out.textContent = action + ": " + (answer.decision || "error") + (answer.reason || answer.error ? " (" + (answer.reason || answer.error) + ")" : "");
  out.dataset.decision = answer.decision || "error";
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  dash.state = newState();
  const [info, layout] = await Promise.all([fetch("/api/info").then((r) => r.json()), fetch("/api/layout").then((r) => r.json())]);
  dash.info = info;
  dash.layout = layout;
  document.getElementById("store").textContent = info.store;
  buildFloors();
  document.getElementById("agent-pick").addEventListener("change", (e) => select(e.target.value));
  for (const id of ["filter-agent", "filter-type"]) document.getElementById(id).addEventListener("change", () => { dash.dirty = true; schedule(); });
  document.getElementById("scrubber").addEventListener("input", (e) => {
    dash.live = false;
    dash.cut = Number(e.target.value);
    dash.state = rebuild(dash.cut);
    dash.dirty = true;
    schedule();
  });
  document.getElementById("live").addEventListener("click", () => {
    dash.live = true;
    dash.cut = dash.events.length - 1;
    dash.state = rebuild(dash.cut);
    dash.dirty = true;
    schedule();
  });
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => operatorAction(button.dataset.action));
  }
  dash.dirty = true;
  schedule();
  connect();
}

start();
