"""Shared by the browser tests: the system Chromium, the pinned npm packages, and running a driver.

The drivers are node scripts (`*.mjs` next to this file) that take a JSON config file, drive
headless Chromium with playwright-core, save screenshots, and print one JSON object with what they
saw as their last line (exit 0), or the failure (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any, Final

from tests.conftest import require_program

HERE: Final = Path(__file__).resolve().parent
ARTIFACTS: Final = HERE.parent / "artifacts" / "browser"
INSTALL: Final = [
    "npm",
    "install",
    "--prefix",
    str(HERE),
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    "--loglevel=error",
]


def chromium() -> str:
    return require_program("chromium", "chromium-browser", install="the Debian package chromium")


def ensure_packages() -> None:
    """Install the pinned packages of package.json into node_modules when one is missing.

    Called first by every browser test: without Chromium, node or (to install) npm the test is
    skipped with the reason, or fails where every component is required (`require_program`).
    """
    chromium()
    require_program("node", install="the Debian package nodejs")
    wanted = json.loads((HERE / "package.json").read_text())["dependencies"]
    if not all((HERE / "node_modules" / name / "package.json").exists() for name in wanted):
        require_program("npm", install="the Debian package npm")
        subprocess.run(INSTALL, check=True, timeout=600)


async def drive(script: str, config: dict[str, Any], workdir: Path, timeout: float = 150) -> dict[str, Any]:
    """Run `script` with `config`; returns what it saw (fails the test with its output otherwise)."""
    path = workdir / f"{Path(script).stem}.json"
    path.write_text(json.dumps({"chromium": chromium(), **config}))
    process = await asyncio.create_subprocess_exec(
        "node", str(HERE / script), str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode == 0, f"{out.decode()}\n{err.decode()}"
    return json.loads(out.decode().strip().splitlines()[-1])
