"""`python bench/agent_gateway.py`: the gateway, its chats served through Cursor's agent service.

Settings come from the environment exactly as for `python -m gateway` (no `.env` is read); the
start-up line is the same. Benchmarks use it to run the agent path next to the ChatService path.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["--env-file", "/dev/null"], upstream_rpc="agent"))
