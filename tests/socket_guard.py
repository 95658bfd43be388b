"""A pytest plugin: every socket a test opens is closed by the time its module's fixtures are gone.

A socket left open is a leak whether or not the garbage collector has found it yet. Found late,
its `ResourceWarning: unclosed <socket.socket …>` surfaces in whichever test happens to run then,
far from its cause. Here the leak is found deterministically: each socket made during a test
(its setup, call or teardown) is remembered with where it was made; one still open after the
test's teardown is checked again once the module's last test has torn down the module's fixtures
(a module-scoped server may keep a connection made during a test), and one still open then fails
that teardown, naming the test that opened it and the code that made it.

A socket dropped without being closed and only freed later by the garbage collector (one caught in
a reference cycle) warns wherever the collection happens to run, in some later test. The guard
knows every socket's `close()` or `detach()`, so a socket freed without either is reported the
same way, at the end of the module where it was freed, naming the test that made it.
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
    closed: bool = False  # by `close()` or `detach()`

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
        self.live: dict[int, Made] = {}  # every noted socket not yet freed, by id
        self.freed_open: list[Made] = []  # freed by the garbage collector without a close

    def note(self, made: socket.socket) -> None:
        if self.test is None:
            return
        stack = []
        frame = sys._getframe(2)
        while frame is not None and len(stack) < STACK_FRAMES:
            stack.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
            frame = frame.f_back
        key = id(made)
        entry = Made(weakref.ref(made, lambda _: self.freed(key)), self.test, stack)
        self.made[key] = self.live[key] = entry

    def closed(self, made: socket.socket) -> None:
        entry = self.live.get(id(made))
        if entry is not None and entry.socket() is made:
            entry.closed = True

    def freed(self, key: int) -> None:
        """A noted socket is being freed (a weakref callback: during collection, so no raising)."""
        entry = self.live.pop(key, None)
        if entry is not None and not entry.closed:
            self.freed_open.append(entry)

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
                leaked += self.freed_open
                self.pending.clear()
                self.freed_open = []
                if leaked:
                    pytest.fail(report(leaked), pytrace=False)


def report(leaked: list[Made]) -> str:
    lines = [f"{len(leaked)} socket(s) left open:"]
    for made in leaked:
        found = made.still_open()
        what = repr(found) if found is not None else "a socket freed by the garbage collector unclosed"
        lines.append(f"- {what}, opened during {made.test}, made at:")
        lines += [f"    {frame}" for frame in made.stack]
    return "\n".join(lines)


GUARD = SocketGuard()
_init = socket.socket.__init__
_close = socket.socket.close
_detach = socket.socket.detach


def _noted_init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    GUARD.note(self)


def _noted_close(self: socket.socket) -> None:
    GUARD.closed(self)
    _close(self)


def _noted_detach(self: socket.socket) -> int:
    GUARD.closed(self)  # its descriptor now belongs to someone else (an event loop's transport)
    return _detach(self)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.__init__ = _noted_init  # type: ignore[method-assign]
    socket.socket.close = _noted_close  # type: ignore[method-assign]
    socket.socket.detach = _noted_detach  # type: ignore[method-assign]
    config.pluginmanager.register(GUARD, "socket-guard")


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.__init__ = _init  # type: ignore[method-assign]
    socket.socket.close = _close  # type: ignore[method-assign]
    socket.socket.detach = _detach  # type: ignore[method-assign]
