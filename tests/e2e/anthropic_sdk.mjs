// The official Anthropic TypeScript SDK (`@anthropic-ai/sdk`, pinned in package.json) against the gateway.
//
// Usage: node anthropic_sdk.mjs BASE_URL API_KEY MODEL TASK
// Prints one JSON object: the streamed text of a plain message (with its final message and the stream
// event types) and the turns of a tool loop that runs `write_file` / `read_file` in memory until the
// model answers in text. The SDK's MessageStream rebuilds each message from the events and throws on
// an event sequence it does not expect.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, apiKey, model, task] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0 });

const tools = [
  {
    name: "write_file",
    description: "Write a file.",
    input_schema: {
      type: "object",
      properties: { path: { type: "string" }, content: { type: "string" } },
      required: ["path", "content"],
    },
  },
  {
    name: "read_file",
    description: "Read a file.",
    input_schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
];

async function plain() {
  const stream = client.messages.stream({
    model,
    max_tokens: 256,
    messages: [{ role: "user", content: "stream me, please" }],
  });
  const pieces = [];
  const events = [];
  stream.on("text", (text) => pieces.push(text));
  stream.on("streamEvent", (event) => events.push(event.type));
  const message = await stream.finalMessage();
  return { pieces, events, message };
}

async function toolLoop() {
  const files = {};
  const messages = [{ role: "user", content: task }];
  const turns = [];
  for (let turn = 0; turn < 5; turn += 1) {
    const message = await client.messages.stream({ model, max_tokens: 1024, tools, messages }).finalMessage();
    turns.push({ stop_reason: message.stop_reason, content: message.content });
    if (message.stop_reason !== "tool_use") break;
    const results = [];
    for (const block of message.content) {
      if (block.type !== "tool_use") continue;
      let output;
      if (block.name === "write_file") {
        files[block.input.path] = block.input.content;
        output = "written";
      } else {
        output = files[block.input.path] ?? "no such file";
      }
      results.push({ type: "tool_result", tool_use_id: block.id, content: output });
    }
    messages.push({ role: "assistant", content: message.content }, { role: "user", content: results });
  }
  return { files, turns };
}

const result = { plain: await plain(), tools: await toolLoop() };
process.stdout.write(JSON.stringify(result) + "\n");
