"""The standalone runner prints its URLs and serves both fronts until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx

from tests.fakes import CHAT_PATH
from tests.fakes.__main__ import parse_args
from tests.fakes.client_for_tests import build_request, chat_headers, decode_stream, frame_request

ROOT = Path(__file__).resolve().parents[2]


async def test_standalone_runner() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes", "--port", "0", "--h2-port", "0", "--seed", "3",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            line = (await proc.stdout.readline()).decode()
        match = re.search(r"http1=(\S+) h2c=(\S+)", line)
        assert match, line
        body = frame_request(build_request("standalone"))
        async with httpx.AsyncClient(http1=False, http2=True) as h2, httpx.AsyncClient() as h1:
            first = await h1.post(match.group(1) + CHAT_PATH, content=body, headers=chat_headers())
            second = await h2.post(match.group(2) + CHAT_PATH, content=body, headers=chat_headers())
        assert (
            decode_stream(first.content).text
            == decode_stream(second.content).text
            == "\n\nYou said: standalone"
        )
        assert first.content == second.content  # one seed, one scenario engine, identical bytes
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


def test_default_scenario_option() -> None:
    assert (
        parse_args(["--default-scenario", "agent prose_first=true"]).default_scenario
        == "agent prose_first=true"
    )
    assert parse_args([]).default_scenario == ""
