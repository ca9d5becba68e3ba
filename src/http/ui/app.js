// Berth's web UI: plain DOM, no build step, no network beyond this agent's HTTP API.
// Every page keeps itself current with blocking queries (?index=&wait=); data is always
// inserted as text, never as HTML.
"use strict";

const WAIT = "5m";
let generation = 0; // bumped on every navigation; stale loops stop
// Aborted on every navigation, so a page's pending blocking query (held up to WAIT) never
// keeps one of the browser's few connections per host after the page is left.
let aborter = new AbortController();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function say(text) { document.getElementById("status").textContent = text || ""; }

async function api(path, opts) {
  const r = await fetch(path, opts);
  if (r.status === 404 && opts && opts.missingOk) return r;
  if (!r.ok) throw new Error(`${opts && opts.method || "GET"} ${path}: ${r.status} ${(await r.text()).trim()}`);
  return r;
}

// Renders `path` now and again each time its index moves, until the page changes. With
// `missingOk`, a 404 (a key that does not exist, yet or any more) renders as null.
async function live(path, render, missingOk) {
  const mine = generation;
  const signal = aborter.signal;
  let index = 0;
  while (mine === generation) {
    try {
      const sep = path.includes("?") ? "&" : "?";
      const url = index ? `${path}${sep}index=${index}&wait=${WAIT}` : path;
      const r = await api(url, { missingOk, signal });
      const next = Number(r.headers.get("X-Consul-Index") || 0);
      const body = r.status === 404 ? null : await r.json();
      if (mine !== generation) return;
      say("");
      render(body);
      // An index that went backwards (a snapshot restore) starts over, as Consul's clients do.
      index = next > index ? next : (next < index ? 0 : next);
      if (!next) await sleep(2000);
    } catch (e) {
      if (mine !== generation) return;
      say(e.message);
      await sleep(2000);
    }
  }
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function worst(checks) {
  if (checks.some((c) => c.Status === "critical")) return "critical";
  if (checks.some((c) => c.Status === "warning")) return "warning";
  return "passing";
}

function tags(list) { return (list || []).map((t) => el("span", { class: "tag" }, t)); }

function table(headers, rows, label) {
  return el("table", { "aria-label": label },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) => el("td", { "data-label": headers[i] }, c))))));
}

function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(el("h1", {}, title), ...content.flat().filter((c) => c !== null && c !== undefined));
}

function checkBlock(c) {
  return el("div", { class: `check ${c.Status}`, "data-check": c.CheckID, "data-status": c.Status },
    el("strong", {}, c.Name || c.CheckID), " ", el("span", { class: c.Status }, c.Status),
    c.Type ? el("span", { class: "muted" }, ` (${c.Type})`) : null,
    c.Output ? el("pre", {}, c.Output) : null);
}

const link = (href, text) => el("a", { href }, text);
const enc = encodeURIComponent;

function services() {
  page("Services", el("p", { class: "muted" }, "Loading…"));
  live("/v1/internal/ui/services", (list) => {
    const rows = list.map((s) => [
      link(`#/services/${enc(s.Name)}`, s.Name),
      tags(s.Tags),
      String(s.InstanceCount),
      el("span", {},
        [["passing", s.ChecksPassing], ["warning", s.ChecksWarning], ["critical", s.ChecksCritical]].map(([st, n]) =>
          el("span", { class: `badge ${st}`, title: `${st} checks`, "aria-label": `${n} ${st}` }, n))),
    ]);
    page("Services", table(["Service", "Tags", "Instances", "Checks"], rows, "Services"));
  });
}

function service(name) {
  page(name, el("p", { class: "muted" }, "Loading…"));
  live(`/v1/health/service/${enc(name)}`, (list) => {
    const items = list.map((e) => {
      const s = e.Service;
      const addr = hostPort(s.Address || e.Node.Address, s.Port);
      const meta = Object.entries(s.Meta || {}).map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`));
      return el("section", { class: "instance", "data-instance": s.ID, "data-status": worst(e.Checks) },
        el("h2", {}, el("span", { class: worst(e.Checks) }, "● "), s.ID),
        el("p", {}, "Node ", link(`#/nodes/${enc(e.Node.Node)}`, e.Node.Node), ` · ${addr}`),
        el("p", {}, tags(s.Tags), meta),
        e.Checks.map(checkBlock));
    });
    page(name, items.length ? items : el("p", { class: "muted" }, "No instances."));
  });
}

function nodes() {
  page("Nodes", el("p", { class: "muted" }, "Loading…"));
  live("/v1/internal/ui/nodes", (list) => {
    const rows = list.map((n) => [
      link(`#/nodes/${enc(n.Node)}`, n.Node),
      n.Address,
      el("span", { class: worst(n.Checks) }, worst(n.Checks)),
      n.Services.map((s) => el("span", { class: "tag" }, s.Service)),
    ]);
    page("Nodes", table(["Node", "Address", "Health", "Services"], rows, "Nodes"));
  });
}

function node(name) {
  page(name, el("p", { class: "muted" }, "Loading…"));
  live("/v1/internal/ui/nodes", (list) => {
    const n = list.find((x) => x.Node === name);
    if (!n) { page(name, el("p", { class: "muted" }, "No such node.")); return; }
    const rows = n.Services.map((s) => [link(`#/services/${enc(s.Service)}`, s.Service), s.ID, hostPort(s.Address || n.Address, s.Port), tags(s.Tags)]);
    page(name,
      el("p", {}, `Address ${n.Address}`, " ", Object.entries(n.Meta || {}).map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`))),
      el("h2", {}, "Services"), table(["Service", "ID", "Address", "Tags"], rows, "Services on this node"),
      el("h2", {}, "Checks"), n.Checks.map(checkBlock));
  });
}

// A KV value as text, or null when its bytes are not UTF-8 (shown read-only, never re-saved).
function decode(b64) {
  if (b64 === null || b64 === undefined) return "";
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try { return new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { return null; }
}

// Textareas turn CRLF into LF: compare texts the same way.
const norm = (t) => (t || "").replace(/\r\n?/g, "\n");
// A key or prefix as a URL path (API) or hash (links): each segment encoded.
const encPath = (k) => k.split("/").map(enc).join("/");
// host:port, with an IPv6 address in brackets.
const hostPort = (addr, port) => (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`);

function kvFolder(prefix) {
  const title = prefix ? `Key/Value: ${prefix}` : "Key/Value";
  const create = el("form", { "aria-label": "Create a key", onsubmit: async (ev) => {
    ev.preventDefault();
    const key = prefix + ev.target.elements.key.value;
    try {
      const r = await api(`/v1/kv/${encPath(key)}?cas=0`, { method: "PUT", body: ev.target.elements.value.value });
      if ((await r.text()).trim() !== "true") { say(`Not created: ${key} already exists.`); return; }
      location.hash = `#/kv/${encPath(key)}`;
    } catch (e) { say(e.message); }
  } },
    el("label", { for: "new-key" }, "New key (end with / for a folder)"), el("input", { id: "new-key", name: "key", required: "" }),
    el("label", { for: "new-value" }, "Value"), el("textarea", { id: "new-value", name: "value" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create")));
  page(title, el("p", { class: "muted" }, "Loading…"));
  live(`/v1/kv/${encPath(prefix)}?keys&separator=/`, (found) => {
    const keys = found || []; // an empty folder is a 404, as in Consul
    const rows = keys.filter((k) => k !== prefix).map((k) => [link(`#/kv/${encPath(k)}`, k.slice(prefix.length)), k.endsWith("/") ? "folder" : "key"]);
    const up = prefix ? link(`#/kv/${encPath(prefix.replace(/[^/]+\/$/, ""))}`, "↑ up") : null;
    page(title, up, rows.length ? table(["Key", "Kind"], rows, "Keys") : el("p", { class: "muted" }, "No keys here."),
      el("h2", {}, "Create"), create);
  }, true);
}

function kvKey(key) {
  const path = `/v1/kv/${encPath(key)}`;
  const folder = `#/kv/${encPath(key.replace(/[^/]+$/, ""))}`;
  page(`Key: ${key}`, el("p", { class: "muted" }, "Loading…"));
  let loaded = null; // the entry the form was built from: its ModifyIndex is the cas index
  let baseline = ""; // the text the form holds unedited (after a save: the saved text)
  let saving = false; // while a save is in flight, updates wait: it may be our own write
  let deferred; // the update that arrived during the save
  const dirty = () => {
    const box = document.getElementById("value");
    return loaded !== null && box !== null && norm(box.value) !== baseline;
  };
  const render = (list) => {
    if (saving) { deferred = list; return; }
    // A change made elsewhere never overwrites what the user is typing: the form keeps its
    // text and its cas index, so Save is refused, and a notice says so.
    if (dirty()) {
      document.getElementById("changed").textContent = list
        ? `This key changed elsewhere (ModifyIndex ${list[0].ModifyIndex}); saving your text will be refused. Reload to see the new value.`
        : "This key was deleted elsewhere; saving your text will be refused.";
      return;
    }
    if (!list) {
      loaded = null;
      page(`Key: ${key}`, link(folder, "↑ folder"), el("p", { class: "muted" }, "No such key."));
      return;
    }
    const e = list[0];
    const text = decode(e.Value);
    loaded = e;
    baseline = norm(text);
    const remove = el("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirm(`Delete ${key}?`)) return;
      try {
        const r = await api(`${path}?cas=${loaded.ModifyIndex}`, { method: "DELETE" });
        if ((await r.text()).trim() !== "true") { say("Not deleted: the key changed since it was loaded (cas)."); return; }
        location.hash = folder;
      } catch (err) { say(err.message); }
    } }, "Delete");
    const meta = el("p", { class: "muted" }, `ModifyIndex ${e.ModifyIndex} · Flags ${e.Flags}`);
    if (text === null) {
      // Not UTF-8: editing it as text would corrupt it.
      page(`Key: ${key}`, link(folder, "↑ folder"), meta,
        el("p", {}, `A binary value (${atob(e.Value).length} bytes), shown as base64; edit it through the API.`),
        el("pre", { class: "value" }, e.Value), el("div", { class: "actions" }, remove));
      return;
    }
    const form = el("form", { "aria-label": "Edit key", onsubmit: async (ev) => {
      ev.preventDefault();
      const value = ev.target.elements.value.value;
      saving = true;
      try {
        const r = await api(`${path}?cas=${loaded.ModifyIndex}`, { method: "PUT", body: value });
        if ((await r.text()).trim() !== "true") say("Not saved: the key changed since it was loaded (cas); reload to see it.");
        else { baseline = norm(value); say(""); } // our own update re-renders with its new index
      } catch (err) { say(err.message); }
      saving = false;
      if (deferred !== undefined) { const d = deferred; deferred = undefined; render(d); }
    } },
      el("label", { for: "value" }, "Value"), el("textarea", { id: "value", name: "value" }, text),
      el("div", { class: "actions" }, el("button", { type: "submit" }, "Save"), remove));
    page(`Key: ${key}`, link(folder, "↑ folder"), meta,
      el("p", { id: "changed", class: "warning", role: "alert" }), form);
  };
  live(path, render, true);
}

const STATUS = { 1: "alive", 2: "leaving", 3: "left", 4: "failed" };

async function members() {
  const mine = generation;
  page("Members", el("p", { class: "muted" }, "Loading…"));
  // /v1/agent/members does not block (as in Consul): it is asked again every 3 s.
  while (mine === generation) {
    try {
      const list = await (await api("/v1/agent/members")).json();
      if (mine !== generation) return;
      const rows = list.map((m) => [m.Name, hostPort(m.Addr, m.Port),
        el("span", { class: m.Status === 1 ? "passing" : "critical" }, STATUS[m.Status] || String(m.Status)),
        m.Tags.role === "consul" ? "server" : "client", m.Tags.build || ""]);
      page("Members", table(["Name", "Address", "Status", "Role", "Build"], rows, "Members"));
      say("");
    } catch (e) { say(e.message); }
    await sleep(3000);
  }
}

async function header() {
  for (;;) {
    try {
      const self = await (await api("/v1/agent/self")).json();
      document.getElementById("dc").textContent = self.Config.Datacenter;
      document.getElementById("version").textContent = `${self.Config.Version} (${self.Config.Revision})`;
      const leader = await (await api("/v1/status/leader")).json();
      document.getElementById("leader").textContent = leader || "none";
    } catch (e) {
      document.getElementById("leader").textContent = "unknown";
    }
    await sleep(5000);
  }
}

// Decodes one hash segment; a stray "%" is kept as typed rather than breaking the page.
function segment(s) {
  try { return decodeURIComponent(s); } catch (e) { return s; }
}

function route() {
  generation += 1;
  aborter.abort();
  aborter = new AbortController();
  say("");
  const [section, ...rest] = (location.hash.replace(/^#\/?/, "") || "services").split("/").map(segment);
  const arg = rest.join("/");
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (section === "services") return arg ? service(arg) : services();
  if (section === "nodes") return arg ? node(arg) : nodes();
  if (section === "kv") return arg === "" || arg.endsWith("/") ? kvFolder(arg) : kvKey(arg);
  if (section === "members") return members();
  page("Not found", el("p", {}, "No such page."));
}

window.addEventListener("hashchange", route);
route();
header();
