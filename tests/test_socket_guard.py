"""The socket guard (tests/socket_guard.py) fails a module that leaves a socket open, naming where."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LEAKY = """
import socket

kept = []


def test_opens():
    kept.append(socket.socket())


def test_later():
    pass
"""

TIDY = """
import socket


def test_opens_and_closes():
    with socket.socket() as made:
        assert made.fileno() != -1
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_module=source)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester.runpytest_subprocess(
        "-p",
        "tests.socket_guard",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )


def test_a_socket_left_open_fails_its_module_naming_the_test_and_the_line(pytester, monkeypatch):
    result = run(pytester, monkeypatch, LEAKY)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*1 socket(s) left open:",
            "*opened during test_module.py::test_opens, made at:",
            "*test_module.py:7 in test_opens",
        ]
    )


def test_closed_sockets_pass(pytester, monkeypatch):
    run(pytester, monkeypatch, TIDY).assert_outcomes(passed=1)


CYCLE = """
import gc
import socket


class Holder:
    def __init__(self):
        self.itself = self
        self.made = socket.socket()


def test_drops_a_socket_in_a_cycle():
    Holder()


def test_collects():
    gc.collect()
"""


def test_a_socket_freed_unclosed_by_the_collector_fails_naming_the_test_that_made_it(pytester, monkeypatch):
    # Its own warning surfaces in whichever test runs the collection; the guard names the cause.
    result = run(pytester, monkeypatch, CYCLE)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*1 socket(s) left open:",
            "*a socket freed by the garbage collector unclosed, opened during "
            "test_module.py::test_drops_a_socket_in_a_cycle, made at:",
            "*test_module.py:8 in __init__",
        ]
    )


DETACHED = """
import gc
import socket


class Holder:
    def __init__(self):
        self.itself = self
        self.made = socket.socket()
        self.fd = self.made.detach()


def test_detaches_a_socket_in_a_cycle():
    holder = Holder()
    socket.close(holder.fd)


def test_collects():
    gc.collect()
"""


def test_a_detached_socket_freed_later_is_no_leak(pytester, monkeypatch):
    run(pytester, monkeypatch, DETACHED).assert_outcomes(passed=2)
