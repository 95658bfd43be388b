"""How the end-to-end tests run the real coding-agent CLIs, headless, against the gateway.

The CLIs (and the Anthropic TypeScript SDK) come from the npm registry at the exact versions of
`tests/e2e/package.json`; the first test that needs one installs them all into
`tests/e2e/node_modules` (git-ignored) with `INSTALL_COMMAND`.

Every run gets its own HOME, XDG directories and client config directory under a temporary folder,
and an environment built from scratch (only PATH and locale are taken over), so nothing is read
from or written to the user's real configuration and no key leaks in or out. Telemetry, update
checks and model-list downloads are switched off; the machine has no network but the loopback.

Kilo Code CLI (`kilo`, a Bun binary shipped inside the npm package)::

    KILO_CONFIG_CONTENT='{"provider":{"cursor2api":{"npm":"@ai-sdk/openai-compatible",
        "options":{"baseURL":BASE,"apiKey":KEY},"models":{MODEL:{"tool_call":true}}}},
        "model":"cursor2api/MODEL","autoupdate":false,"share":"disabled"}'
    kilo run --auto --format json -m cursor2api/MODEL "TASK"      # in the workspace

`--format json` prints one JSON event per line (`step_start`, `text`, `tool_use`, `step_finish`,
`error`); `--auto` approves the write tool without asking.

Continue CLI (`cn`, plain Node)::

    config.yaml: models: [{name, provider: openai, model: MODEL, apiBase: BASE, apiKey: KEY,
                           roles: [chat, edit, apply], capabilities: [tool_use]}]
    cn -p --auto --config config.yaml "TASK"                        # in the workspace

`-p` prints the final answer to stdout and exits; `--auto` allows every tool.

Claude Code (`claude`, a native binary shipped inside the npm package), on Anthropic Messages::

    ANTHROPIC_BASE_URL=ROOT ANTHROPIC_API_KEY=KEY ANTHROPIC_MODEL=MODEL CLAUDE_CONFIG_DIR=…
    claude -p --output-format stream-json --verbose --allowedTools "Write Read" -- "TASK"

`--output-format stream-json` prints one JSON message per line (`system`, `assistant` with its
content blocks, `user` with the tool results, a closing `result`); `--allowedTools` lets the write
and read tools run without asking.

The Anthropic TypeScript SDK runs `anthropic_sdk.mjs` with plain `node`; the OpenAI ones (openai-node
and the AI SDK) run `responses_sdks.mjs`.

Codex CLI (`codex`, a Rust binary in the npm package), on the Responses API::

    $CODEX_HOME/config.toml: model = MODEL, model_provider = "cursor2api", approval_policy = "never",
        sandbox_mode = "workspace-write", web_search = "disabled",
        [model_providers.cursor2api] base_url = BASE, env_key = "CURSOR2API_KEY", wire_api = "responses"
    codex exec --json --skip-git-repo-check --ephemeral "TASK"      # in the workspace

`--json` prints one JSON event per line (`item.completed` with `agent_message`,
`command_execution` or `file_change` items, `turn.completed`, `error`). Codex knows nothing of
Cursor's model ids, so it offers its default tools (`exec_command`, …); with `model_catalog`
set, a catalog file describes the model as taking `apply_patch` as a free-form (`custom`) tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.conftest import require_program

E2E_DIR: Final = Path(__file__).resolve().parent
BIN_DIR: Final = E2E_DIR / "node_modules" / ".bin"
_install_lock = threading.Lock()
INSTALL_COMMAND: Final = "npm install --prefix tests/e2e --no-audit --no-fund --no-package-lock"
PROVIDER: Final = "cursor2api"
RUN_TIMEOUT: Final = 240.0  # seconds one CLI run may take


@dataclass(frozen=True, slots=True)
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-6000:]}"


def installed(path: Path) -> Path:
    """`path` under `node_modules`; the pinned packages are installed on first use if it is missing
    (the test is skipped, or fails in CI, when node and npm are not there to do it)."""
    require_program("node", install="the Debian package nodejs")
    if not path.exists():
        require_program("npm", install="the Debian package npm")
        with _install_lock:
            if not path.exists():
                subprocess.run(
                    [*shlex.split(INSTALL_COMMAND), "--loglevel=error"],
                    cwd=E2E_DIR.parent.parent,
                    check=True,
                    timeout=900,
                )
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing after `{INSTALL_COMMAND}`")
    return path


def binary(name: str) -> str:
    """The CLI's executable."""
    return str(installed(BIN_DIR / name))


def isolated_env(home: Path) -> dict[str, str]:
    """A fresh environment whose every config, data, cache and state directory is under `home`."""
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
        "TMPDIR": home / "tmp",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {name: str(path) for name, path in dirs.items()}
    env["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env["TERM"] = "dumb"
    env["NO_COLOR"] = "1"
    env["CI"] = "true"
    return env


def kilo_config(base_url: str, api_key: str, model: str) -> dict[str, Any]:
    return {
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "cursor2api",
                "options": {"baseURL": base_url, "apiKey": api_key},
                "models": {model: {"name": model, "tool_call": True}},
            }
        },
        "model": f"{PROVIDER}/{model}",
        "small_model": f"{PROVIDER}/{model}",
        "autoupdate": False,
        "share": "disabled",
    }


def kilo(task: str, *, workspace: Path, home: Path, base_url: str, api_key: str, model: str) -> Invocation:
    """`kilo run --auto --format json` with an `@ai-sdk/openai-compatible` provider at `base_url`."""
    env = isolated_env(home)
    env.update(
        {
            "KILO_CONFIG_CONTENT": json.dumps(kilo_config(base_url, api_key, model)),
            "KILO_DISABLE_PROJECT_CONFIG": "1",
            "KILO_DISABLE_MODELS_FETCH": "1",
            "KILO_DISABLE_AUTOUPDATE": "1",
            "KILO_DISABLE_LSP_DOWNLOAD": "1",
            "KILO_DISABLE_SHARE": "1",
            "KILO_DISABLE_CLAUDE_CODE": "1",
            "KILO_TELEMETRY_LEVEL": "off",
        }
    )
    argv = [binary("kilo"), "run", "--auto", "--format", "json", "-m", f"{PROVIDER}/{model}", task]
    return Invocation(argv, env, workspace)


def continue_config(base_url: str, api_key: str, model: str) -> str:
    """Continue's config.yaml (JSON is valid YAML, so no YAML writer is needed)."""
    config = {
        "name": "cursor2api-e2e",
        "version": "1.0.0",
        "schema": "v1",
        "models": [
            {
                "name": "cursor2api",
                "provider": "openai",
                "model": model,
                "apiBase": base_url,
                "apiKey": api_key,
                "roles": ["chat", "edit", "apply"],
                "capabilities": ["tool_use"],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def continue_cli(
    task: str, *, workspace: Path, home: Path, base_url: str, api_key: str, model: str
) -> Invocation:
    """`cn -p --auto --config FILE` with an `openai` provider whose `apiBase` is `base_url`."""
    env = isolated_env(home)
    global_dir = home / ".continue"
    global_dir.mkdir(parents=True, exist_ok=True)
    config = home / "config.yaml"
    config.write_text(continue_config(base_url, api_key, model), encoding="utf-8")
    env.update(
        {
            "CONTINUE_GLOBAL_DIR": str(global_dir),
            "CONTINUE_CLI_ENABLE_TELEMETRY": "0",
            "CONTINUE_METRICS_ENABLED": "0",
            "CONTINUE_CLI_DISABLE_COMMIT_SIGNATURE": "1",
        }
    )
    argv = [binary("cn"), "-p", "--auto", "--config", str(config), task]
    return Invocation(argv, env, workspace)


def gateway_root(base_url: str) -> str:
    """The gateway's root URL from its OpenAI base (`…/v1`): Anthropic clients add `/v1` themselves."""
    return base_url.removesuffix("/").removesuffix("/v1")


def claude_code(
    task: str, *, workspace: Path, home: Path, base_url: str, api_key: str, model: str
) -> Invocation:
    """`claude -p --output-format stream-json` with `ANTHROPIC_BASE_URL` at the gateway."""
    env = isolated_env(home)
    env.update(
        {
            "ANTHROPIC_BASE_URL": gateway_root(base_url),
            "ANTHROPIC_API_KEY": api_key,
            "ANTHROPIC_MODEL": model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }
    )
    argv = [
        binary("claude"),
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Write Read",
        "--",
        task,
    ]
    return Invocation(argv, env, workspace)


def anthropic_sdk(
    task: str, *, workspace: Path, home: Path, base_url: str, api_key: str, model: str
) -> Invocation:
    """`node anthropic_sdk.mjs`: a streamed message and a tool loop with the TypeScript SDK."""
    script = E2E_DIR / "anthropic_sdk.mjs"
    installed(E2E_DIR / "node_modules" / "@anthropic-ai" / "sdk" / "package.json")
    argv = ["node", str(script), gateway_root(base_url), api_key, model, task]
    return Invocation(argv, isolated_env(home), workspace)


def codex_catalog(model: str) -> dict[str, Any]:
    """A model catalog (`model_catalog_json`) in which `model` takes `apply_patch` as a free-form tool."""
    entry = {
        "slug": model,
        "display_name": model,
        "base_instructions": "You are a coding agent working in the user's workspace through the tools you are given.",
        "apply_patch_tool_type": "freeform",
        "supports_search_tool": False,
        "shell_type": "shell_command",
        "context_window": 200_000,
        "supported_reasoning_levels": [{"effort": "medium", "description": "Medium"}],
        "visibility": "list",
        "supported_in_api": True,
        "priority": 1,
        "support_verbosity": False,
        "truncation_policy": {"mode": "tokens", "limit": 10_000},
        "experimental_supported_tools": [],
    }
    return {"models": [entry]}


def codex(
    task: str,
    *,
    workspace: Path,
    home: Path,
    base_url: str,
    api_key: str,
    model: str,
    model_catalog: bool = False,
) -> Invocation:
    """`codex exec --json` with a custom provider on the Responses wire API at `base_url`."""
    env = isolated_env(home)
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    lines = [
        f"model = {json.dumps(model)}",
        f'model_provider = "{PROVIDER}"',
        'approval_policy = "never"',
        'sandbox_mode = "workspace-write"',
        'web_search = "disabled"',
        "check_for_update_on_startup = false",
    ]
    if model_catalog:
        catalog = home / "models.json"
        catalog.write_text(json.dumps(codex_catalog(model)), encoding="utf-8")
        lines.append(f"model_catalog_json = {json.dumps(str(catalog))}")
    lines += [
        "",
        f"[model_providers.{PROVIDER}]",
        f'name = "{PROVIDER}"',
        f"base_url = {json.dumps(base_url)}",
        'env_key = "CURSOR2API_KEY"',
        'wire_api = "responses"',
    ]
    (codex_home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env.update({"CODEX_HOME": str(codex_home), "CURSOR2API_KEY": api_key})
    argv = [binary("codex"), "exec", "--json", "--skip-git-repo-check", "--ephemeral", task]
    return Invocation(argv, env, workspace)


SDK_SCRIPT: Final = E2E_DIR / "responses_sdks.mjs"
SDK_PACKAGES: Final = ("openai", "ai", "@ai-sdk/openai", "zod")


def node_sdk(
    scenario: str, task: str, *, workspace: Path, home: Path, base_url: str, api_key: str, model: str
) -> Invocation:
    """`node responses_sdks.mjs SCENARIO`: the JavaScript SDKs (openai-node, the AI SDK) at `base_url`."""
    for package in SDK_PACKAGES:
        installed(E2E_DIR / "node_modules" / package / "package.json")
    env = isolated_env(home)
    env.update(
        {
            "CURSOR2API_BASE_URL": base_url,
            "CURSOR2API_KEY": api_key,
            "CURSOR2API_MODEL": model,
            "CURSOR2API_TASK": task,
        }
    )
    return Invocation(["node", str(SDK_SCRIPT), scenario], env, workspace)


async def run(invocation: Invocation, *, timeout: float) -> Finished:
    """Run the CLI with no stdin; on timeout kill its process group and report what it printed."""
    process = await asyncio.create_subprocess_exec(
        *invocation.argv,
        cwd=invocation.cwd,
        env=invocation.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = await process.communicate()
        raise AssertionError(
            f"{Path(invocation.argv[0]).name} did not finish in {timeout} s\n"
            + Finished(-9, out.decode(errors="replace"), err.decode(errors="replace")).describe()
        ) from None
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a CLI that prints one per line (`kilo run --format json`, `claude -p
    --output-format stream-json`)."""
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


async def run_through(
    build: Callable[..., Invocation],
    stack: Callable[..., Awaitable[Any]],
    workspace: Path,
    home: Path,
    task: str,
    **settings: object,
) -> tuple[Any, Finished]:
    """Start gateway + simulator with `settings`, run one CLI task against it; (stack, result)."""
    gateway = await stack(**settings)
    invocation = build(
        task,
        workspace=workspace,
        home=home,
        base_url=gateway.base_url,
        api_key=gateway.api_key,
        model=gateway.model,
    )
    return gateway, await run(invocation, timeout=RUN_TIMEOUT)
