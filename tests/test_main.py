"""`python -m gateway` as a real process: first run without a token, config errors, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://\S+) \(Cursor client version (\S+), (\S+)\)")


async def start_gateway(
    tmp_path: Path, *args: str, **env: str
) -> tuple[asyncio.subprocess.Process, str, tuple[str, str]]:
    """Start `python -m gateway`; return the process, its URL and the (client version, source)
    of its start-up line."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": "0",
        "TOKEN_FILE": str(tmp_path / ".token"),
        "TOKEN_LIST_FILE": str(tmp_path / ".token-list"),
        "DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "--env-file",
        str(tmp_path / "absent.env"),
        *args,
        cwd=ROOT,
        env=environ,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
        assert line, "the gateway exited before listening"
        match = LISTENING.search(line)
        if match:
            return process, match.group(1), (match.group(2), match.group(3))


async def stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 20)


@pytest.mark.slow
async def test_first_run_without_a_token(tmp_path):
    process, url, version = await start_gateway(tmp_path)
    assert version == ("3.20.14", "built-in")  # nothing saved yet; the feed is read in the background
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/health") as response:
                assert response.status == 200
            async with session.get(f"{url}/") as response:
                assert "No Cursor token is configured" in await response.text()
            async with session.post(
                f"{url}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer 0000"},
            ) as response:
                assert response.status == 503
                body = await response.json()
                assert body["error"]["code"] == "no_token_configured"
                assert str(tmp_path / ".token") in body["error"]["message"]
    finally:
        assert await stop(process) == 0


async def test_bad_setting_exits_2_naming_it(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PORT": "99999"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2 and b"PORT" in err


async def test_default_key_refused_on_a_public_address(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "--host",
        "0.0.0.0",
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2 and b"API_KEY" in err


@pytest.mark.slow
async def test_demo_mode_answers_offline(tmp_path):
    process, url, _ = await start_gateway(tmp_path, "--demo")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer 0000"}) as session:
            async with session.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": "claude-4.5-sonnet",  # the README's quick start
                    "stream": True,
                    "messages": [{"role": "user", "content": "hello demo"}],
                },
            ) as response:
                assert response.status == 200
                body = await response.text()
            assert '"finish_reason":"stop"' in body and body.endswith("data: [DONE]\n\n")
            assert "".join(re.findall(r'"content":"([^"]*)"', body)) == "You said: hello demo"
            async with session.get(f"{url}/") as response:
                assert "Demo mode" in await response.text()
    finally:
        assert await stop(process) == 0


@pytest.mark.slow
async def test_sigterm_ends_a_running_stream_in_band_after_the_grace_period(tmp_path):
    process, url, _ = await start_gateway(tmp_path, "--demo", SHUTDOWN_GRACE="0.3")
    try:
        ask = {
            "model": "claude-4.5-sonnet",
            "stream": True,
            "messages": [{"role": "user", "content": "long " * 300}],
        }
        async with (
            aiohttp.ClientSession(headers={"Authorization": "Bearer 0000"}) as session,
            session.post(f"{url}/v1/chat/completions", json=ask) as response,
        ):
            await response.content.readany()
            process.send_signal(signal.SIGTERM)
            body = (await asyncio.wait_for(response.content.read(), 20)).decode()
        assert '"code":"gateway_shutting_down"' in body and body.endswith("data: [DONE]\n\n")
    finally:
        assert await asyncio.wait_for(process.wait(), 20) == 0
