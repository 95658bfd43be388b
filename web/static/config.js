// The config page: loaded after shared.js, talks only to this gateway's admin API.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  function show(data) {
    document.getElementById("enable_stream_check").checked = data.enable_stream_check;
    document.getElementById("vision_ability").value = data.vision_ability;
    document.getElementById("enable_slow_pool").checked = data.enable_slow_pool;
  }
  async function load() { show((await api("/config", { action: "get" })).data); }
  async function loadPage() {
    const path = document.getElementById("page-path").value;
    const data = (await api("/config", { action: "get", path })).data;
    document.getElementById("content-type").value = data.content_type || "default";
    document.getElementById("page-content").value = data.page_content || "";
  }
  document.getElementById("options-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const r = await api("/config", {
        action: "update",
        enable_stream_check: document.getElementById("enable_stream_check").checked,
        vision_ability: document.getElementById("vision_ability").value,
        enable_slow_pool: document.getElementById("enable_slow_pool").checked,
      });
      show(r.data); notice(r.message, "ok");
    } catch (e) { notice(e.message, "bad"); }
  });
  document.getElementById("reset-all").addEventListener("click", async () => {
    try { const r = await api("/config", { action: "reset" }); show(r.data); notice(r.message, "ok"); } catch (e) { notice(e.message, "bad"); }
  });
  document.getElementById("page-load").addEventListener("click", () => loadPage().catch((e) => notice(e.message, "bad")));
  document.getElementById("page-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = document.getElementById("page-path").value;
    const contentType = document.getElementById("content-type").value;
    const body = contentType === "default" ? { action: "reset", path } :
      { action: "update", path, content_type: contentType, content: document.getElementById("page-content").value };
    try { const r = await api("/config", body); notice(r.message, "ok"); } catch (e) { notice(e.message, "bad"); }
  });
  keyForm(load);
});
