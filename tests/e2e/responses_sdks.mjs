// The JavaScript clients of the Responses API, run against the gateway by tests/e2e/test_responses_sdks.py.
//
// `node responses_sdks.mjs <scenario>` with CURSOR2API_BASE_URL, CURSOR2API_KEY and CURSOR2API_MODEL
// set; prints one JSON object on stdout. The tools keep their files in memory.
//
//   openai-create, openai-stream   openai-node: a tool loop with responses.create / responses.stream
//   ai-sdk-text                    AI SDK: streamText with createOpenAI(...)(model), no tools
//   ai-sdk-tools                   AI SDK: streamText with two tools, run to the end by the SDK
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { streamText, tool, stepCountIs } from "ai";
import { z } from "zod";

const baseURL = process.env.CURSOR2API_BASE_URL;
const apiKey = process.env.CURSOR2API_KEY;
const model = process.env.CURSOR2API_MODEL;
const TASK = process.env.CURSOR2API_TASK;

function runTool(files, name, args) {
  if (name === "write_file") {
    files[args.path] = args.content;
    return "written";
  }
  return files[args.path] ?? "no such file";
}

const FUNCTION_TOOLS = [
  {
    type: "function",
    name: "write_file",
    description: "Write a file.",
    strict: true,
    parameters: {
      type: "object",
      properties: { path: { type: "string" }, content: { type: "string" } },
      required: ["path", "content"],
      additionalProperties: false,
    },
  },
  {
    type: "function",
    name: "read_file",
    description: "Read a file.",
    strict: true,
    parameters: {
      type: "object",
      properties: { path: { type: "string" } },
      required: ["path"],
      additionalProperties: false,
    },
  },
];

async function openaiLoop(streaming) {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const files = {};
  const input = [{ role: "user", content: TASK }];
  const events = new Set();
  let response;
  for (let turn = 0; turn < 5; turn++) {
    if (streaming) {
      const stream = client.responses.stream({ model, input, tools: FUNCTION_TOOLS });
      for await (const event of stream) events.add(event.type);
      response = await stream.finalResponse();
    } else {
      response = await client.responses.create({ model, input, tools: FUNCTION_TOOLS });
    }
    const calls = response.output.filter((item) => item.type === "function_call");
    if (calls.length === 0) break;
    input.push(...response.output);
    for (const call of calls) {
      const output = runTool(files, call.name, JSON.parse(call.arguments));
      input.push({ type: "function_call_output", call_id: call.call_id, output });
    }
  }
  const text = response.output
    .filter((item) => item.type === "message")
    .flatMap((item) => item.content.map((part) => part.text))
    .join("");
  return { status: response.status, text, files, events: [...events], turns: input.length };
}

async function aiSdk(withTools) {
  const provider = createOpenAI({ baseURL, apiKey });
  const files = {};
  const options = { model: provider(model), prompt: withTools ? TASK : "Stream this sentence back to me in several pieces." };
  if (withTools) {
    options.tools = {
      write_file: tool({
        description: "Write a file.",
        inputSchema: z.object({ path: z.string(), content: z.string() }),
        execute: async (args) => runTool(files, "write_file", args),
      }),
      read_file: tool({
        description: "Read a file.",
        inputSchema: z.object({ path: z.string() }),
        execute: async (args) => runTool(files, "read_file", args),
      }),
    };
    options.stopWhen = stepCountIs(5);
  }
  const result = streamText(options);
  const parts = [];
  const errors = [];
  let deltas = 0;
  for await (const part of result.fullStream) {
    parts.push(part.type);
    if (part.type === "text-delta") deltas += 1;
    if (part.type === "error") errors.push(String(part.error?.message ?? part.error));
  }
  const steps = await result.steps;
  return {
    text: await result.text,
    files,
    parts: [...new Set(parts)],
    deltas,
    errors,
    calls: steps.flatMap((step) => step.toolCalls.map((call) => call.toolName)),
    finishReason: await result.finishReason,
  };
}

const scenarios = {
  "openai-create": () => openaiLoop(false),
  "openai-stream": () => openaiLoop(true),
  "ai-sdk-text": () => aiSdk(false),
  "ai-sdk-tools": () => aiSdk(true),
};

const scenario = scenarios[process.argv[2]];
if (!scenario) {
  console.error(`unknown scenario ${process.argv[2]}; one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
console.log(JSON.stringify(await scenario()));
