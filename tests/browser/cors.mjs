// CORS in headless Chromium: a page served from another origin calls the gateway.
//
//   node tests/browser/cors.mjs <config.json>
//
// config: {gateway, allowedPage, refusedPage, refusedHost, apiKey, model, artifacts, chromium}.
// On the allowed origin the page streams a chat with fetch, reads an error, and streams with the
// official OpenAI and Anthropic SDKs (the esbuild bundle /sdks.js); on the refused origin the same
// calls must fail. Prints one JSON object with what the pages saw; exits 1 on an unexpected failure.
import { join } from "node:path";
import { config, run } from "./driver.mjs";

const seen = { allowed: null, refused: null, errors: { allowed: [], refused: [] } };
let stage = "allowed";

async function calls({ gateway, apiKey, model, sdks }) {
  const result = {};
  try {
    const response = await fetch(gateway + "/v1/chat/completions", {
      method: "POST",
      headers: { "Authorization": "Bearer " + apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hello from another origin" }] }),
    });
    result.status = response.status;
    result.contentType = response.headers.get("content-type");
    result.requestId = response.headers.get("x-request-id");
    result.overheadMs = response.headers.get("x-gateway-overhead-ms");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let raw = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += decoder.decode(value, { stream: true });
    }
    const chunks = raw.split("\n").filter((line) => line.startsWith("data: {")).map((line) => JSON.parse(line.slice(6)));
    result.text = chunks.map((c) => (c.choices && c.choices[0] && c.choices[0].delta.content) || "").join("");
    result.done = raw.includes("data: [DONE]");
  } catch (error) {
    result.fetchError = String(error);
  }
  try {
    const bad = await fetch(gateway + "/v1/models", { headers: { "Authorization": "Bearer wrong-key" } });
    result.error = { status: bad.status, body: await bad.json() };
  } catch (error) {
    result.errorFetchError = String(error);
  }
  if (sdks) {
    const { OpenAI, Anthropic } = await import("/sdks.js");
    try {
      const openai = new OpenAI({ baseURL: gateway + "/v1", apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
      const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "hello from the SDK" }] });
      let text = "";
      for await (const chunk of stream) text += (chunk.choices[0] && chunk.choices[0].delta.content) || "";
      result.openai = text;
    } catch (error) {
      result.openaiError = String(error);
    }
    try {
      const anthropic = new Anthropic({ baseURL: gateway, apiKey, dangerouslyAllowBrowser: true, maxRetries: 0 });
      result.anthropicModels = (await anthropic.models.list()).data.length;
      const stream = await anthropic.messages.create({ model, max_tokens: 256, stream: true, messages: [{ role: "user", content: "hello from Claude's SDK" }] });
      let text = "";
      for await (const event of stream) if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      result.anthropic = text;
    } catch (error) {
      result.anthropicError = String(error);
    }
  }
  document.getElementById("out").textContent = JSON.stringify(result, null, 2);
  return result;
}

await run(seen, async (browser) => {
  const page = await (await browser.newContext({ viewport: { width: 1000, height: 700 } })).newPage();
  page.on("pageerror", (error) => seen.errors[stage].push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") seen.errors[stage].push(message.text()); });

  await page.goto(config.allowedPage);
  seen.allowed = await page.evaluate(calls, { ...config, sdks: true });
  await page.screenshot({ path: join(config.artifacts, "allowed-origin.png"), fullPage: true });

  stage = "refused";
  await page.goto(config.refusedPage);
  seen.refused = await page.evaluate(calls, { ...config, sdks: true });
  seen.refused.origin = await page.evaluate(() => location.origin);
  await page.screenshot({ path: join(config.artifacts, "refused-origin.png"), fullPage: true });
}, [`--host-resolver-rules=MAP ${config.refusedHost} 127.0.0.1`]);
