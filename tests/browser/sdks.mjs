// The official SDKs as a browser page uses them: bundled by esbuild for the CORS test's page.
export { default as OpenAI } from "openai";
export { default as Anthropic } from "@anthropic-ai/sdk";
