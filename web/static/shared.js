// cursor2api pages: the admin key lives in this tab's sessionStorage only, and is sent as a
// bearer header to the JSON APIs. Nothing here talks to any other origin.
"use strict";

const KEY_NAME = "cursor2api.adminKey";

function adminKey() { return sessionStorage.getItem(KEY_NAME) || ""; }

function setAdminKey(value) {
  if (value) sessionStorage.setItem(KEY_NAME, value); else sessionStorage.removeItem(KEY_NAME);
}

function notice(text, kind) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.className = kind || "";
}

// Call an admin API with the admin key; resolves to the response, rejects with the error message.
async function call(path, body, method) {
  const options = { method: method || (body === undefined ? "GET" : "POST"), headers: { "Authorization": "Bearer " + adminKey() } };
  if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(document.body.dataset.prefix + path, options);
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    const error = (data && data.error) || {};
    throw new Error((error.code ? error.code + ": " : "") + (error.message || ("HTTP " + response.status)));
  }
  return response;
}

// POST/GET a JSON API with the admin key; resolves to the parsed body.
async function api(path, body, method) {
  return (await call(path, body, method)).json().catch(() => ({}));
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

// The key form every admin page shows; each `onReady` runs once a key is set (and at load if one is).
// Several scripts of one page may call it (the logs page and its dashboard); the form is wired once.
const keyListeners = [];
function keyForm(onReady) {
  keyListeners.push(onReady);
  if (keyListeners.length > 1) {
    if (adminKey()) onReady().catch((error) => notice(error.message, "bad"));
    return;
  }
  const form = document.getElementById("key-form");
  const input = document.getElementById("admin-key");
  const panel = document.getElementById("admin");
  function ready() {
    const has = Boolean(adminKey());
    if (panel) panel.classList.toggle("hidden", !has);
    if (has) for (const listener of keyListeners) listener().catch((error) => notice(error.message, "bad"));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setAdminKey(input.value.trim());
    input.value = "";
    ready();
  });
  document.getElementById("forget-key").addEventListener("click", () => { setAdminKey(""); ready(); notice("Key forgotten.", "muted"); });
  ready();
}
