"""A pytest plugin: every socket a test opens is closed by the time its module's fixtures are gone.

A socket left open is a leak whether or not the garbage collector has found it yet. Found late,
its `ResourceWarning: unclosed <socket.socket …>` surfaces in whichever test happens to run then,
far from its cause. Here the leak is found deterministically: each socket made during a test
(its setup, call or teardown) is remembered with where it was made; one still open after the
test's teardown is checked again once the module's last test has torn down the module's fixtures
(a module-scoped server may keep a connection made during a test), and one still open then fails
that teardown, naming the test that opened it and the code that made it.
"""

from __future__ import annotations

import socket
import sys
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest

STACK_FRAMES = 16


@dataclass
class Made:
    socket: weakref.ref[socket.socket]
    test: str
    stack: list[str]

    def still_open(self) -> socket.socket | None:
        made = self.socket()
        if made is None or made.fileno() == -1:
            return None
        return made


class SocketGuard:
    def __init__(self) -> None:
        self.test: str | None = None  # the test whose phases are running
        self.made: dict[int, Made] = {}  # made during `self.test`, by id
        self.pending: list[Made] = []  # open after their test's teardown

    def note(self, made: socket.socket) -> None:
        if self.test is None:
            return
        stack = []
        frame = sys._getframe(2)
        while frame is not None and len(stack) < STACK_FRAMES:
            stack.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
            frame = frame.f_back
        self.made[id(made)] = Made(weakref.ref(made), self.test, stack)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.test = item.nodeid

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            self.test = None
            self.pending += [made for made in self.made.values() if made.still_open() is not None]
            self.made.clear()
            if nextitem is None or nextitem.path != item.path:  # the module's fixtures are gone
                leaked = [made for made in self.pending if made.still_open() is not None]
                self.pending.clear()
                if leaked:
                    pytest.fail(report(leaked), pytrace=False)


def report(leaked: list[Made]) -> str:
    lines = [f"{len(leaked)} socket(s) left open:"]
    for made in leaked:
        lines.append(f"- {made.still_open()!r}, opened during {made.test}, made at:")
        lines += [f"    {frame}" for frame in made.stack]
    return "\n".join(lines)


GUARD = SocketGuard()
_init = socket.socket.__init__


def _noted_init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    GUARD.note(self)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.__init__ = _noted_init  # type: ignore[method-assign]
    config.pluginmanager.register(GUARD, "socket-guard")


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.__init__ = _init  # type: ignore[method-assign]
