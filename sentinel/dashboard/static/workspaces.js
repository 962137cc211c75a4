// Workspaces panel: the content-addressed workspace snapshots recorded up to the moment on
// screen (live, or where the time-travel scrubber is), read through /api/workspaces,
// /api/workspace and /api/workspace/file. Names and contents are the agents': every one is
// set with textContent, never as HTML. Picking an agent follows its workspace while
// scrubbing: the tree (and the open file) of its latest snapshot at each moment.
"use strict";

const ws = { key: null, seen: 0, positions: [], agent: null, root: null, path: null, ticket: 0 };

function wsSnapshotsUpTo(cut) {
  const events = dash.events;
  for (; ws.seen < events.length; ws.seen++) {
    if (events[ws.seen].type === "workspace.snapshot") ws.positions.push(events[ws.seen].position);
  }
  let lo = 0;
  let hi = ws.positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ws.positions[mid] <= cut) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function wsNode(tag, text, attrs) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

async function wsFetch(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
  return body;
}

function wsSay(id, text) {
  const el = document.getElementById(id);
  el.replaceChildren(wsNode("span", text, { class: "muted" }));
}

// Called from draw(): refetches only when the latest snapshot at the cut changed.
function drawWorkspaces() {
  const count = wsSnapshotsUpTo(dash.cut);
  const key = count ? ws.positions[count - 1] : -1;
  if (key === ws.key) return;
  ws.key = key;
  if (!count) {
    setText(document.getElementById("ws-label"), "");
    wsSay("ws-snapshots", "No workspace snapshot recorded by then (workspaces on CAS: run --workspace-fs cas).");
    document.getElementById("ws-tree").replaceChildren();
    document.getElementById("ws-file").replaceChildren();
    return;
  }
  wsLoadSnapshots(key);
}

async function wsLoadSnapshots(at) {
  const ticket = ++ws.ticket;
  let body;
  try {
    body = await wsFetch("/api/workspaces?at=" + at);
  } catch (error) {
    if (ticket === ws.ticket) wsSay("ws-snapshots", "cannot list snapshots: " + error.message);
    return;
  }
  if (ticket !== ws.ticket) return; // a later scrub asked again
  setText(document.getElementById("ws-label"), body.total + " snapshots up to #" + at +
    (body.available ? "" : " · no object store at " + body.objects));
  const list = document.getElementById("ws-snapshots");
  list.replaceChildren(...body.latest.map((s) => {
    const item = wsNode("li", undefined, { "data-agent": s.agent_id, "data-root": s.root });
    const button = wsNode("button", s.agent_id, { type: "button" });
    button.addEventListener("click", () => { ws.agent = s.agent_id; ws.path = null; wsOpenTree(s.root); });
    item.append(button, wsNode("span", " " + s.reason + " · tick " + (s.tick === null ? "-" : s.tick) +
      " · #" + s.position + " · " + s.root.slice(0, 12), { class: "muted" }));
    if (s.agent_id === ws.agent) item.classList.add("selected");
    return item;
  }));
  const followed = body.latest.find((s) => s.agent_id === ws.agent);
  if (followed && followed.root !== ws.root) wsOpenTree(followed.root);
}

async function wsOpenTree(root) {
  ws.root = root;
  for (const li of document.querySelectorAll("#ws-snapshots li")) li.classList.toggle("selected", li.dataset.agent === ws.agent);
  let body;
  try {
    body = await wsFetch("/api/workspace?root=" + root);
  } catch (error) {
    if (ws.root === root) wsSay("ws-tree", "cannot read snapshot " + root.slice(0, 12) + ": " + error.message);
    return;
  }
  if (ws.root !== root) return;
  const tree = document.getElementById("ws-tree");
  tree.dataset.root = root;
  tree.replaceChildren(...body.entries.map((e) => {
    const depth = e.path.split("/").length - 1;
    const name = e.path.slice(e.path.lastIndexOf("/") + 1) + (e.kind === "dir" ? "/" : e.kind === "link" ? " →" : "");
    const item = wsNode("li", undefined, { "data-path": e.path, "data-kind": e.kind, title: e.mode + " " + e.uid + ":" + e.gid + " " + e.id });
    item.style.paddingLeft = depth * 12 + "px";
    if (e.kind !== "dir" && e.exact) {
      const open = wsNode("button", name, { type: "button", class: "link" });
      open.addEventListener("click", () => wsOpenFile(root, e.path));
      item.append(open);
    } else {
      item.append(wsNode("span", name));
    }
    if (e.size !== null) item.append(wsNode("span", " " + e.size + " B", { class: "muted" }));
    return item;
  }));
  if (body.truncated) tree.append(wsNode("li", "… (listing cut at " + body.entries.length + " entries)", { class: "muted" }));
  if (ws.path && body.entries.some((e) => e.path === ws.path)) wsOpenFile(root, ws.path);
  else document.getElementById("ws-file").replaceChildren();
}

async function wsOpenFile(root, path) {
  ws.path = path;
  const out = document.getElementById("ws-file");
  let f;
  try {
    f = await wsFetch("/api/workspace/file?root=" + root + "&path=" + encodeURIComponent(path));
  } catch (error) {
    if (ws.path === path) wsSay("ws-file", path + ": " + error.message);
    return;
  }
  if (ws.root !== root || ws.path !== path) return;
  const head = wsNode("div", f.path + " · " + f.kind + " " + f.mode + " · " + f.size + " B · " + f.id.slice(0, 12) +
    (f.binary ? " · binary, shown as hex" : "") + (f.truncated ? " · truncated" : ""), { "data-testid": "ws-file-head" });
  const hex = f.hex ? f.hex.match(/.{1,64}/g).join("\n") : "";
  const body = wsNode("pre", f.binary ? hex : f.text, { "data-testid": "ws-file-body", "data-binary": String(f.binary) });
  out.replaceChildren(head, body);
}
