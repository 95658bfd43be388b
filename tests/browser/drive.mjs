// Drives the gateway's pages in headless Chromium (the system package) with playwright-core.
//
//   node tests/browser/drive.mjs <config.json>
//
// config: {base, adminKey, apiKey, token, alias, model, artifacts, chromium}. Each step saves a
// screenshot into `artifacts`; the script prints one JSON object with what it saw and exits 0, or
// prints the failure and exits 1. The Python test checks the gateway's side of every step.
import { join } from "node:path";
import { config, run } from "./driver.mjs";

const seen = { pages: {}, errors: [] };

async function shot(page, name) {
  await page.screenshot({ path: join(config.artifacts, `${name}.png`), fullPage: true });
}

async function useKey(page) {
  await page.fill("#admin-key", config.adminKey);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#admin:not(.hidden)");
}

await run(seen, async (browser) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") seen.errors.push(message.text()); });

  // 1. The status page.
  await page.goto(config.base + "/");
  seen.pages.index = { title: await page.title(), baseUrl: await page.textContent("#base-url"), models: await page.locator("details.model").count() };
  await page.locator("details.model summary").first().click();
  seen.pages.index.modelOpen = await page.locator("details.model").first().evaluate((el) => el.open);
  await shot(page, "01-status");

  // 2. Tokens: enter the admin key, add a token through the form, see it listed.
  await page.goto(config.base + "/tokeninfo");
  await shot(page, "02-tokens-locked");
  await useKey(page);
  await page.fill("#add-alias", config.alias);
  await page.fill("#add-token", config.token);
  await page.click("#add-form button[type=submit]");
  await page.waitForSelector(`#pool tr[data-alias="${config.alias}"]`);
  seen.pages.tokens = {
    notice: await page.textContent("#notice"),
    rows: await page.locator("#pool tbody tr").count(),
    maskedText: await page.inputValue("#token-text"),
    listed: await page.textContent(`#pool tr[data-alias="${config.alias}"]`),
  };
  await shot(page, "03-token-added");

  // 3. Config: change an option and see it applied (and still there after a reload).
  await page.goto(config.base + "/config");
  await page.waitForSelector("#admin:not(.hidden)"); // the key is remembered in this tab
  await page.waitForFunction(() => document.getElementById("vision_ability").value !== "");
  await page.selectOption("#vision_ability", "all");
  await page.click("#options-form button[type=submit]");
  await page.waitForFunction(() => /saved/i.test(document.getElementById("notice").textContent));
  await page.reload();
  await page.waitForSelector("#admin:not(.hidden)");
  await page.waitForFunction(() => document.getElementById("vision_ability").value === "all");
  seen.pages.config = { vision: await page.inputValue("#vision_ability") };
  await shot(page, "04-config-saved");

  // 4. A chat request, then its row on the logs page.
  const answer = await page.evaluate(async ({ base, apiKey, model }) => {
    const response = await fetch(base + "/v1/chat/completions", {
      method: "POST",
      headers: { "Authorization": "Bearer " + apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hello from the browser" }] }),
    });
    return { status: response.status, id: response.headers.get("x-request-id"), body: await response.json() };
  }, config);
  seen.chat = { status: answer.status, requestId: answer.id, content: answer.body.choices[0].message.content };
  await page.goto(config.base + "/logs");
  await page.waitForSelector("#admin:not(.hidden)");
  await page.waitForSelector(`#logs tr[data-request-id="${answer.id}"]`, { timeout: 10000 });
  seen.pages.logs = { row: await page.textContent(`#logs tr[data-request-id="${answer.id}"]`), summary: await page.textContent("#summary") };
  await shot(page, "05-logs");

  // 5. Forgetting the key hides the admin panel again.
  await page.click("#forget-key");
  seen.pages.forgotten = await page.locator("#admin.hidden").count();
  await shot(page, "06-key-forgotten");
});
