// The tokeninfo page: loaded after shared.js, talks only to this gateway's admin API.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const stamp = (t) => t ? new Date(t * 1000).toISOString().replace(".000Z", "Z") : "";
  async function loadPool() {
    const data = await api("/api/tokens");
    const c = data.counts || {};
    document.getElementById("pool-summary").textContent =
      `${data.token_count} token(s), strategy ${data.strategy}: ${c.active || 0} active, ${c.cooling_down || 0} cooling down, ` +
      `${c.exhausted || 0} exhausted, ${c.disabled || 0} disabled, ${c.expired || 0} expired.`;
    const body = document.querySelector("#pool tbody");
    body.replaceChildren();
    for (const t of data.tokens) {
      const row = document.createElement("tr");
      row.dataset.alias = t.alias;
      cell(row, t.alias); cell(row, t.kind === "api_key" ? "API key" : "session"); cell(row, t.token);
      const pill = document.createElement("span");
      pill.textContent = t.state;
      pill.className = "pill " + (t.state === "active" ? "ok" : t.state === "disabled" || t.state === "expired" ? "bad" : "warn");
      cell(row, "").appendChild(pill);
      const up = t.upstream || {};
      const rpc = cell(row, up.rpc === "agent" ? "AgentService" : up.rpc === "chat" ? "ChatService" : "");
      rpc.title = (up.reason || "") + (up.recheck_at ? `; ChatService is tried again at ${stamp(up.recheck_at)}` : "");
      // An API key has no expiry of its own: its access token's is shown (it is renewed before then).
      const access = t.access || {};
      cell(row, t.kind === "api_key" ? (access.expires_at ? `${stamp(access.expires_at)} (access token)` : access.state || "") : stamp(t.exp));
      cell(row, t.requests); cell(row, t.errors); cell(row, t.last_error); cell(row, stamp(t.last_used));
      const actions = cell(row, "");
      if (t.state !== "active") {
        const button = document.createElement("button");
        button.textContent = "Reset"; button.className = "secondary";
        button.addEventListener("click", async () => {
          try { await api("/api/tokens/reset", { alias: t.alias }); notice(`Token ${t.alias} reset.`, "ok"); await loadPool(); }
          catch (error) { notice(error.message, "bad"); }
        });
        actions.appendChild(button);
      }
      body.appendChild(row);
    }
  }
  async function loadFiles() {
    const reveal = document.getElementById("reveal").checked;
    const data = await api("/get-tokeninfo", { reveal });
    for (const [id, text] of [["token-text", data.tokens], ["token-list-text", data.token_list]]) {
      const area = document.getElementById(id);
      area.value = text || ""; area.readOnly = !reveal;
    }
    document.getElementById("save").disabled = !reveal;
    const list = document.getElementById("problems");
    list.replaceChildren(...(data.problems || []).map((p) => { const li = document.createElement("li"); li.textContent = p; return li; }));
  }
  async function refresh() { await loadPool(); await loadFiles(); }
  document.getElementById("reveal").addEventListener("change", () => refresh().catch((e) => notice(e.message, "bad")));
  document.getElementById("reload").addEventListener("click", async () => {
    try { const r = await api("/update-tokeninfo"); notice(r.message, "ok"); await refresh(); } catch (e) { notice(e.message, "bad"); }
  });
  document.getElementById("checksum").addEventListener("click", async () => {
    try { document.getElementById("checksum-value").textContent = (await api("/checksum")).checksum; } catch (e) { notice(e.message, "bad"); }
  });
  document.getElementById("save").addEventListener("click", async () => {
    try {
      const r = await api("/update-tokeninfo", { tokens: document.getElementById("token-text").value, token_list: document.getElementById("token-list-text").value });
      notice(r.message, "ok"); await refresh();
    } catch (e) { notice(e.message, "bad"); }
  });
  document.getElementById("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const alias = document.getElementById("add-alias").value.trim();
    const token = document.getElementById("add-token").value.trim();
    try {
      const current = await api("/get-tokeninfo", { reveal: true });
      const text = (current.tokens || "").replace(/\n*$/, "\n") .replace(/^\n$/, "") + (alias ? `${alias}::${token}` : token) + "\n";
      const r = await api("/update-tokeninfo", { tokens: text });
      document.getElementById("add-token").value = ""; document.getElementById("add-alias").value = "";
      notice(r.message, "ok"); await refresh();
    } catch (e) { notice(e.message, "bad"); }
  });
  keyForm(refresh);
});
