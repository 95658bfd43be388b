"""The systemd unit in deploy/ passes `systemd-analyze verify` and carries the promised hardening."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.config import Settings
from gateway.server import ConnectionLimits, fd_budget
from tests.conftest import require_program

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "cursor2api.service"


def test_unit_verifies(tmp_path):
    analyze = require_program("systemd-analyze", install="the Debian package systemd")
    # The unit's paths point at /opt/cursor2api; verify it against this checkout and interpreter.
    text = UNIT.read_text(encoding="utf-8").replace("/opt/cursor2api/.venv/bin/python", sys.executable)
    text = text.replace("/opt/cursor2api", str(ROOT))
    text = text.replace("User=cursor2api", "User=root").replace("Group=cursor2api", "Group=root")
    unit = tmp_path / "cursor2api.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_unit_hardening():
    lines = set(UNIT.read_text(encoding="utf-8").splitlines())
    for line in (
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=/opt/cursor2api",
        "UMask=0077",
    ):
        assert line in lines
    assert "ExecStart=/opt/cursor2api/.venv/bin/python -m gateway" in lines


def test_unit_open_file_limit_holds_the_default_connection_cap():
    limit = next(
        int(line.split("=", 1)[1])
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.startswith("LimitNOFILE=")
    )
    defaults = Settings.from_mapping({})
    assert fd_budget(ConnectionLimits.from_settings(defaults)) <= limit
