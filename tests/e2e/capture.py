"""Record the request bodies the real CLIs send: `python -m tests.e2e.capture [OUT_DIR]`.

Runs each CLI on the file task against `openai_agent` and writes, per client, the body of its
second tool turn (the catalog, `tool_choice`, stream options and a replayed call with its result)
to `OUT_DIR/<client>-<version>-request.json` (default `tests/fixtures/`). The bodies are kept
as sent except that: the temporary workspace and home paths become `/workspace` and `/home/user`;
the system prompt and each tool's top-level description, the clients' own prose, are replaced by a
note of their length (the schemas stay verbatim); and timestamps are fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from tests.e2e import clients
from tests.e2e.checks import TASK
from tests.e2e.openai_agent import AgentEndpoint, create_app

FIXTURES: Final = Path(__file__).resolve().parent.parent / "fixtures"
MODEL: Final = "claude-4.5-sonnet"
VERSIONS: Final = json.loads((clients.E2E_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
TIMESTAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")
DATE: Final = re.compile(r"(Today's date: )\d{4}-\d{2}-\d{2}")


def left_out(text: str) -> str:
    return f"[{len(text)} characters of the client's own text, left out]"


def sanitise(body: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for real, stand_in in paths.items():
                value = value.replace(real, stand_in)
            return DATE.sub(r"\g<1>2026-01-01", TIMESTAMP.sub("2026-01-01T00:00:00Z", value))
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    out: dict[str, Any] = scrub(body)
    for message in out.get("messages", []):
        if message.get("role") in ("system", "developer"):
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = left_out(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        part["text"] = left_out(part["text"])
    for tool in out.get("tools", []):
        function = tool.get("function", {})
        if isinstance(function.get("description"), str):
            function["description"] = left_out(function["description"])
    return out


async def capture(client: str, out_dir: Path) -> Path:
    endpoint = AgentEndpoint()
    runner = web.AppRunner(create_app(endpoint), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workspace, home = Path(tmp, "workspace"), Path(tmp, "home")
            workspace.mkdir()
            home.mkdir()
            make = clients.kilo if client == "kilo" else clients.continue_cli
            invocation = make(
                TASK,
                workspace=workspace,
                home=home,
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="sk-capture",
                model=MODEL,
            )
            done = await clients.run(invocation, timeout=240)
            if done.returncode != 0:
                raise SystemExit(f"{client} failed:\n{done.describe()}")
            turns = [body for body in endpoint.requests if body.get("tools")]
            body = sanitise(turns[1], {str(workspace): "/workspace", str(home): "/home/user"})
    finally:
        await runner.cleanup()
    package = "@kilocode/cli" if client == "kilo" else "@continuedev/cli"
    name = "kilo-cli" if client == "kilo" else "continue-cli"
    path = out_dir / f"{name}-{VERSIONS[package]}-request.json"
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


async def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for client in ("kilo", "continue"):
        print(await capture(client, out_dir))  # noqa: T201 - a command-line tool's output


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.capture", description=__doc__)
    parser.add_argument("out_dir", nargs="?", type=Path, default=FIXTURES)
    asyncio.run(main(parser.parse_args().out_dir))
