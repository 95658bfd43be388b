// The dashboard on the status and logs pages: the gateway draws the charts (SVG and data tables,
// GET /api/stats/charts with the admin key); this script picks the window, fetches them and shows
// them. Loaded after shared.js; talks only to this gateway.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const WINDOW_KEY = "cursor2api.dashboardWindow";
  const REFRESH_MS = 60000;
  const charts = document.getElementById("charts");
  const buttons = [...root.querySelectorAll("[data-window]")];
  let current = sessionStorage.getItem(WINDOW_KEY) || "day";
  if (!buttons.some((b) => b.dataset.window === current)) current = "day";

  async function load() {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.window === current));
    charts.setAttribute("aria-busy", "true");
    try {
      const offset = -new Date().getTimezoneOffset(); // minutes east of UTC: buckets on this clock
      const response = await call(`/api/stats/charts?window=${current}&utc_offset=${offset}`);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      charts.replaceChildren(...page.body.childNodes);
      root.dataset.loaded = current;
    } finally {
      charts.setAttribute("aria-busy", "false");
    }
  }
  const run = () => load().catch((error) => notice(error.message, "bad"));

  for (const b of buttons) {
    b.addEventListener("click", () => { current = b.dataset.window; sessionStorage.setItem(WINDOW_KEY, current); run(); });
  }
  document.getElementById("dash-refresh").addEventListener("click", run);
  // Forgetting the key takes the charts away too, not only out of sight.
  const forget = document.getElementById("forget-key");
  if (forget) forget.addEventListener("click", () => { charts.replaceChildren(); delete root.dataset.loaded; });
  setInterval(() => { if (adminKey() && !document.hidden) run(); }, REFRESH_MS);
  keyForm(load);
});
