// inmem dashboard: talks to the JSON API of the server that serves it.
// Data from the database is only ever written with textContent.
"use strict";

const PAGE_SIZE = 20;
const STATS_EVERY_MS = 2000;
const PASSWORD_KEY = "inmem.password";

const $ = (id) => document.getElementById(id);

const state = {
  ns: "0",
  cursors: [null], // cursor of each page seen so far; the last is the current page's
  next: null,
  selected: null, // the selected key as the API gives it (string or {base64})
  ttlDeadline: null, // ms timestamp, or null when the key does not expire
  waitingForPassword: false,
};

// ---- API access -----------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

async function api(method, path, body) {
  const headers = {};
  const password = sessionStorage.getItem(PASSWORD_KEY);
  if (password !== null) headers.Authorization = "Bearer " + password;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", "cannot reach the server: " + e.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(
      response.status,
      error.code || "http_" + response.status,
      error.message || response.statusText,
      error,
    );
    if (response.status === 401 || response.status === 403) askForPassword(failure);
    throw failure;
  }
  return data;
}

function withNs(path) {
  const sep = path.includes("?") ? "&" : "?";
  return path + sep + "ns=" + encodeURIComponent(state.ns);
}

// A key as the API gives it (a string, or {base64} for bytes that are not UTF-8)
// percent-encoded for a path segment.
function keyPath(key) {
  if (typeof key === "string") return encodeURIComponent(key);
  const bytes = atob(key.base64);
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    out += "%" + bytes.charCodeAt(i).toString(16).padStart(2, "0").toUpperCase();
  }
  return out;
}

// Text for a key or value: strings as they are, other bytes labelled as base64.
function shown(bytes) {
  if (typeof bytes === "string") return bytes;
  if (bytes && typeof bytes.base64 === "string") return "(bytes, base64) " + bytes.base64;
  return String(bytes);
}

function showError(id, error) {
  $(id).textContent = error ? (error.message || String(error)) : "";
}

// ---- password -------------------------------------------------------------

function askForPassword(failure) {
  const form = $("auth-form");
  form.hidden = false;
  $("auth-error").textContent =
    failure.status === 403 ? "Wrong password, try again." : "";
  if (!state.waitingForPassword) {
    state.waitingForPassword = true;
    $("auth-password").focus();
  }
}

$("auth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(PASSWORD_KEY, $("auth-password").value);
  $("auth-password").value = "";
  $("auth-form").hidden = true;
  state.waitingForPassword = false;
  loadAll();
});

// ---- key list -------------------------------------------------------------

function listPath(cursor) {
  const params = new URLSearchParams();
  const pattern = $("search").value;
  if (pattern !== "") params.set($("search-mode").value, pattern);
  params.set("count", String(PAGE_SIZE));
  if (cursor) params.set("cursor", cursor);
  params.set("ns", state.ns);
  return "/v1/keys?" + params.toString();
}

async function loadPage() {
  const cursor = state.cursors[state.cursors.length - 1];
  let page;
  try {
    page = await api("GET", listPath(cursor));
  } catch (e) {
    showError("list-error", e);
    return;
  }
  showError("list-error", null);
  const list = $("keys");
  list.replaceChildren();
  for (const key of page.keys) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = shown(key);
    button.addEventListener("click", () => selectKey(key));
    if (state.selected !== null && sameKey(key, state.selected)) item.className = "selected";
    item.appendChild(button);
    list.appendChild(item);
  }
  $("keys-empty").hidden = page.keys.length > 0;
  state.next = page.next_cursor;
  const first = (state.cursors.length - 1) * PAGE_SIZE;
  $("page-info").textContent = page.total === 0
    ? "0 keys"
    : `${first + 1}–${first + page.keys.length} of ${page.total}`;
  $("prev-page").disabled = state.cursors.length <= 1;
  $("next-page").disabled = state.next === null;
}

function sameKey(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function restartList() {
  state.cursors = [null];
  loadPage();
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  restartList();
});
$("refresh").addEventListener("click", () => loadPage());
$("next-page").addEventListener("click", () => {
  if (state.next !== null) {
    state.cursors.push(state.next);
    loadPage();
  }
});
$("prev-page").addEventListener("click", () => {
  if (state.cursors.length > 1) {
    state.cursors.pop();
    loadPage();
  }
});

// ---- one key ----------------------------------------------------------------

async function selectKey(key) {
  state.selected = key;
  for (const item of $("keys").children) {
    item.className = item.textContent === shown(key) ? "selected" : "";
  }
  showError("detail-error", null);
  $("detail-none").hidden = true;
  $("detail").hidden = false;
  $("detail-key").textContent = shown(key);
  $("detail-value").textContent = "…";
  $("detail-ttl").textContent = "…";
  try {
    const [value, ttl] = await Promise.all([
      api("GET", withNs("/v1/keys/" + keyPath(key))),
      api("GET", withNs("/v1/keys/" + keyPath(key) + "/ttl")),
    ]);
    $("detail-value").textContent = shown(value.value);
    $("detail-value").dataset.text = typeof value.value === "string" ? value.value : "";
    state.ttlDeadline = ttl.ttl === null ? null : Date.now() + ttl.ttl * 1000;
    renderTtl();
  } catch (e) {
    $("detail-value").textContent = "";
    $("detail-ttl").textContent = "";
    showError("detail-error", e);
  }
}

function clearDetail() {
  state.selected = null;
  state.ttlDeadline = null;
  $("detail").hidden = true;
  $("detail-none").hidden = false;
}

function renderTtl() {
  if (state.selected === null || $("detail").hidden) return;
  const ttl = $("detail-ttl");
  if (state.ttlDeadline === null) {
    ttl.textContent = "no expiry";
    return;
  }
  const left = Math.ceil((state.ttlDeadline - Date.now()) / 1000);
  if (left > 0) {
    ttl.textContent = left + " s";
  } else {
    ttl.textContent = "expired";
    state.ttlDeadline = null;
    state.selected = null;
    loadPage();
  }
}
setInterval(renderTtl, 250);

const deleteButton = $("delete-key");
let disarm = null;
deleteButton.addEventListener("click", async () => {
  if (state.selected === null) return;
  if (!deleteButton.classList.contains("armed")) {
    deleteButton.classList.add("armed");
    deleteButton.textContent = "Confirm delete";
    disarm = setTimeout(resetDelete, 4000);
    return;
  }
  resetDelete();
  try {
    await api("DELETE", withNs("/v1/keys/" + keyPath(state.selected)));
    clearDetail();
    loadPage();
  } catch (e) {
    showError("detail-error", e);
  }
});

function resetDelete() {
  clearTimeout(disarm);
  deleteButton.classList.remove("armed");
  deleteButton.textContent = "Delete";
}

$("persist-key").addEventListener("click", async () => {
  if (state.selected === null) return;
  try {
    await api("POST", withNs("/v1/keys/" + keyPath(state.selected) + "/persist"));
    selectKey(state.selected);
  } catch (e) {
    showError("detail-error", e);
  }
});

$("expire-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.selected === null) return;
  const seconds = Number($("expire-seconds").value);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    showError("detail-error", new Error("Give a whole number of seconds above 0."));
    return;
  }
  try {
    await api("POST", withNs("/v1/keys/" + keyPath(state.selected) + "/expire"), { seconds });
    $("expire-seconds").value = "";
    selectKey(state.selected);
  } catch (e) {
    showError("detail-error", e);
  }
});

$("edit-key").addEventListener("click", () => {
  if (state.selected === null) return;
  if (typeof state.selected !== "string") {
    showError("detail-error", new Error("This key is not text; it cannot be edited here."));
    return;
  }
  $("put-key").value = state.selected;
  $("put-value").value = $("detail-value").dataset.text || "";
  $("put-ttl").value = state.ttlDeadline === null
    ? ""
    : String(Math.max(1, Math.ceil((state.ttlDeadline - Date.now()) / 1000)));
  $("put-value").focus();
});

// ---- put --------------------------------------------------------------------

$("put-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("put-error", null);
  $("put-status").textContent = "";
  const key = $("put-key").value;
  if (key === "") {
    showError("put-error", new Error("The key is empty."));
    return;
  }
  const body = { value: $("put-value").value };
  const ttlText = $("put-ttl").value.trim();
  if (ttlText !== "") {
    const ttl = Number(ttlText);
    if (!Number.isInteger(ttl) || ttl <= 0) {
      showError("put-error", new Error("The TTL is a whole number of seconds above 0."));
      return;
    }
    body.ttl = ttl;
  }
  try {
    await api("PUT", withNs("/v1/keys/" + encodeURIComponent(key)), body);
  } catch (e) {
    showError("put-error", e);
    return;
  }
  $("put-status").textContent = "Saved.";
  loadPage();
  selectKey(key);
});

// ---- batch ------------------------------------------------------------------

$("batch-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("batch-error", null);
  const results = $("batch-result");
  results.replaceChildren();
  const statements = $("batch-text").value.split("\n").filter((line) => line.trim() !== "");
  if (statements.length === 0) {
    showError("batch-error", new Error("Type at least one statement."));
    return;
  }
  try {
    const answer = await api("POST", withNs("/v1/batch"), { statements });
    for (const result of answer.results) {
      const item = document.createElement("li");
      item.textContent = typeof result === "string" ? result : JSON.stringify(result);
      results.appendChild(item);
    }
    loadPage();
  } catch (e) {
    showError("batch-error", e);
  }
});

// ---- namespaces -------------------------------------------------------------

async function loadNamespaces() {
  try {
    const answer = await api("GET", withNs("/v1/namespaces"));
    const list = $("ns-list");
    list.replaceChildren();
    for (const ns of answer.namespaces) {
      const option = document.createElement("option");
      option.value = ns.name;
      option.textContent = `${ns.name} (${ns.keys} keys)`;
      list.appendChild(option);
    }
    showError("ns-error", null);
  } catch (e) {
    showError("ns-error", e);
  }
}

$("ns-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const ns = $("ns-input").value.trim();
  if (ns === "") {
    showError("ns-error", new Error("A namespace name is needed."));
    return;
  }
  state.ns = ns;
  clearDetail();
  restartList();
  loadNamespaces();
});

// ---- statistics -------------------------------------------------------------

function formatMicros(us) {
  if (us >= 1000) return (us / 1000).toFixed(2) + " ms";
  return us.toFixed(us < 10 ? 1 : 0) + " µs";
}

async function loadStats() {
  // Nothing to show while locked, and no polling from a tab nobody looks at.
  if (state.waitingForPassword || document.hidden) return;
  let stats;
  try {
    stats = await api("GET", "/v1/stats");
  } catch (e) {
    showError("stats-error", e);
    return;
  }
  showError("stats-error", null);
  $("stats-keys").textContent = String(stats.keys);
  const lookups = stats.hits + stats.misses;
  $("stats-hit").textContent = lookups === 0 ? "–" : (stats.hit_ratio * 100).toFixed(1) + " %";
  $("stats-ops").textContent = String(stats.ops_per_sec);
  let p99 = null;
  for (const figures of Object.values(stats.latency_us || {})) {
    if (p99 === null || figures.p99 > p99) p99 = figures.p99;
  }
  $("stats-p99").textContent = p99 === null ? "–" : formatMicros(p99);
  $("stats-p99").title = "slowest command's 99th percentile";
  $("stats-age").textContent = "updated " + new Date().toLocaleTimeString();
}

function loadAll() {
  loadPage();
  loadNamespaces();
  loadStats();
}

setInterval(loadStats, STATS_EVERY_MS);
loadAll();
