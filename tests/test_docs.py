"""The README and env-example tell the truth about the settings and the commands."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_settings_table() -> dict[str, str]:
    rows = {}
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for match in re.finditer(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$", section, re.MULTILINE):
        default = match.group(2)
        rows[match.group(1)] = "" if default == "(empty)" else default.strip("`")
    return rows


def test_readme_settings_table_matches_the_registry():
    assert readme_settings_table() == {s.name: s.default for s in SETTINGS}


def test_env_example_lists_every_setting_with_its_default():
    text = (ROOT / "env-example").read_text(encoding="utf-8")
    pairs = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert pairs == {s.name: s.default for s in SETTINGS}


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_command():
    run, test = quick_start_commands()[:2]
    assert run.endswith("python -m gateway")
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()
