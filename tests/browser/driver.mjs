// What every browser driver shares: its config (the JSON file named on the command line), the
// system Chromium, and the one JSON line it prints: what it saw, or the failure (exit code 1).
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

export const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

// Launch Chromium, run `steps(browser)`, print `seen` (with `failure` when a step threw), close.
export async function run(seen, steps, args = []) {
  const browser = await chromium.launch({ executablePath: config.chromium, args: ["--no-sandbox", ...args] });
  try {
    await steps(browser);
    console.log(JSON.stringify(seen));
  } catch (error) {
    console.log(JSON.stringify({ ...seen, failure: String((error && error.stack) || error) }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
