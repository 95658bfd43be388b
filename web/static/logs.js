// The logs page: loaded after shared.js, talks only to this gateway's admin API.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  let page = 1;
  async function load() {
    const size = Number(document.getElementById("page-size").value);
    const data = await api("/logs", {
      page, page_size: size,
      status: document.getElementById("status").value,
      model: document.getElementById("model").value.trim() || undefined,
    });
    const pages = Math.max(1, Math.ceil(data.total / size));
    document.getElementById("summary").textContent = `${data.total} request(s), page ${page} of ${pages}` + (data.enabled === false ? " (request logging is off: DATA_DIR is empty)" : "");
    const body = document.querySelector("#logs tbody");
    body.replaceChildren();
    for (const r of data.logs) {
      const row = document.createElement("tr");
      row.dataset.requestId = r.request_id || "";
      cell(row, r.timestamp); cell(row, r.model); cell(row, r.stream ? "yes" : "no");
      const pill = document.createElement("span");
      pill.textContent = `${r.status} ${r.http_status || ""}`;
      pill.className = "pill " + (r.status === "success" ? "ok" : "bad");
      cell(row, "").appendChild(pill);
      cell(row, r.latency_ms === null || r.latency_ms === undefined ? "" : `${Math.round(r.latency_ms)} ms`);
      cell(row, r.ttft_ms === null || r.ttft_ms === undefined ? "" : `${Math.round(r.ttft_ms)} ms`);
      const info = r.token_info || {};
      cell(row, info.alias ? `${info.alias} (${info.token || ""})` : (info.token || ""));
      cell(row, r.upstream === "agent" ? "AgentService" : r.upstream === "chat" ? "ChatService" : "");
      cell(row, r.usage ? `${r.usage.prompt_tokens} + ${r.usage.completion_tokens}` : "");
      cell(row, r.error, r.error ? "bad" : ""); cell(row, r.prompt);
      body.appendChild(row);
    }
    document.getElementById("next").disabled = page >= pages;
    document.getElementById("prev").disabled = page <= 1;
  }
  const run = () => load().catch((e) => notice(e.message, "bad"));
  document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); page = 1; run(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; run(); });
  document.getElementById("prev").addEventListener("click", () => { page = Math.max(1, page - 1); run(); });
  keyForm(load);
});
