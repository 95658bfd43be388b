"""`python bench/agent_gateway.py`: the gateway, its chats served through Cursor's agent service.

Settings come from the environment exactly as for `python -m gateway` (no `.env` is read); the
start-up line is the same. Benchmarks use it to run the agent path next to the ChatService path.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.__main__ import load_settings, serve
from gateway.logs import setup_logging


def main() -> None:
    settings = load_settings(["--env-file", "/dev/null"])
    setup_logging(settings.debug)
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(settings, upstream_rpc="agent"))


if __name__ == "__main__":
    main()
