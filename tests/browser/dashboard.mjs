// The dashboard in headless Chromium: charts drawn from a seeded request log, every window, light
// and dark, the status and logs pages, a narrow window; screenshots into `artifacts`.
//
//   node tests/browser/dashboard.mjs <config.json>
//
// config: {base, adminKey, timezone, artifacts, chromium}. Prints one JSON object with what the
// pages showed; exits 1 on a failure. Console errors (a Content-Security-Policy violation is one)
// are collected in `errors`.
import { join } from "node:path";
import { config, run } from "./driver.mjs";

const seen = { errors: [], statsCallsBeforeKey: 0, windows: {} };

function watch(page) {
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") seen.errors.push(message.text()); });
}

async function useKey(page) {
  await page.fill("#admin-key", config.adminKey);
  await page.click("#key-form button[type=submit]");
}

async function loaded(page, name) {
  await page.waitForSelector(`#dashboard[data-loaded="${name}"]`);
  await page.mouse.move(0, 0); // no hover highlight in the screenshots
}

// What the charts show, read from the DOM the gateway's fragment made.
function read() {
  const text = (el) => (el ? el.textContent.trim() : null);
  const tiles = {};
  for (const tile of document.querySelectorAll(".tile")) tiles[text(tile.querySelector(".tile-label"))] = { value: text(tile.querySelector(".tile-value")), detail: text(tile.querySelector(".tile-detail")) };
  const charts = {};
  for (const figure of document.querySelectorAll("figure.chart")) {
    const svg = figure.querySelector("svg");
    const box = svg.getBoundingClientRect();
    charts[figure.id] = {
      title: text(svg.querySelector("title")),
      desc: text(svg.querySelector("desc")),
      role: svg.getAttribute("role"),
      labelledBy: svg.getAttribute("aria-labelledby").split(" ").map((id) => text(document.getElementById(id))),
      width: Math.round(box.width), height: Math.round(box.height), left: Math.round(box.left), top: Math.round(box.top),
      bars: svg.querySelectorAll(".bars rect").length,
      failedBars: svg.querySelectorAll(".bars .s-bad").length,
      paths: [...svg.querySelectorAll(".lines path")].map((p) => p.getAttribute("d").length),
      tips: svg.querySelectorAll("title").length - 1,
      labels: [...svg.querySelectorAll(".bar-row text.axis")].map((t) => t.textContent),
      xTicks: [...svg.querySelectorAll(".axis.x text")].map((t) => t.textContent),
      tableRows: figure.querySelectorAll("details tbody tr").length,
      empty: text(svg.querySelector("text.empty")),
    };
  }
  return { meta: text(document.querySelector(".dash-meta")), tiles, charts, pressed: text(document.querySelector("[aria-pressed=true]")) };
}

await run(seen, async (browser) => {
  // 1. Status page, light theme: nothing from the log before the key.
  const light = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light", timezoneId: config.timezone });
  const page = await light.newPage();
  watch(page);
  page.on("request", (request) => { if (request.url().includes("/api/stats")) seen.statsCalls = (seen.statsCalls || 0) + 1; });
  await page.goto(config.base + "/");
  seen.statsCallsBeforeKey = seen.statsCalls || 0;
  seen.chartsBeforeKey = await page.locator("#charts > *").count();
  await useKey(page);
  await loaded(page, "day");
  seen.windows.day = await page.evaluate(read);
  await page.locator("#dashboard").screenshot({ path: join(config.artifacts, "dashboard-day-light.png") });
  await page.screenshot({ path: join(config.artifacts, "status-page-light.png"), fullPage: true });

  // 2. The data table under a chart opens, and a bucket names its numbers.
  await page.click("#chart-requests details summary");
  seen.tableVisible = await page.locator("#chart-requests details table").isVisible();
  seen.firstTip = await page.locator("#chart-requests .hits rect title").last().textContent();

  // 3. The week, kept across a reload; then the hour.
  await page.click("[data-window=week]");
  await loaded(page, "week");
  seen.windows.week = await page.evaluate(read);
  await page.locator("#dashboard").screenshot({ path: join(config.artifacts, "dashboard-week-light.png") });
  await page.reload();
  await loaded(page, "week");
  seen.keptAfterReload = await page.evaluate(() => document.querySelector("[aria-pressed=true]").dataset.window);
  await page.click("[data-window=hour]");
  await loaded(page, "hour");
  seen.windows.hour = await page.evaluate(read);
  await page.locator("#dashboard").screenshot({ path: join(config.artifacts, "dashboard-hour-light.png") });

  // 4. Forgetting the key takes the charts away.
  await page.click("#forget-key");
  seen.chartsAfterForget = await page.locator("#charts > *").count();

  // 5. The logs page in the dark theme: the dashboard above the log table.
  const dark = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark", timezoneId: config.timezone });
  const logs = await dark.newPage();
  watch(logs);
  await logs.goto(config.base + "/logs");
  await useKey(logs);
  await loaded(logs, "day");
  await logs.waitForSelector("#logs tbody tr");
  seen.logs = { rows: await logs.locator("#logs tbody tr").count(), background: await logs.evaluate(() => getComputedStyle(document.body).backgroundColor) };
  await logs.screenshot({ path: join(config.artifacts, "logs-dark.png"), fullPage: true });

  // 6. A narrow window: one chart per row.
  await logs.setViewportSize({ width: 720, height: 900 });
  await logs.click("[data-window=week]");
  await loaded(logs, "week");
  seen.narrow = await logs.evaluate(read);
  await logs.locator("#dashboard").screenshot({ path: join(config.artifacts, "dashboard-narrow-dark.png") });
});
