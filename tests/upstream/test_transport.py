"""The aiohttp transport's pieces: the idle watch both transports time their bodies with."""

from __future__ import annotations

import asyncio

from gateway.upstream.transport import IdleWatch


async def test_the_idle_watch_fires_once_after_a_silence_and_signs_of_life_postpone_it():
    fired: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    watch = IdleWatch(0.1, lambda: fired.append(loop.time()))
    for _ in range(5):  # 0.25 s of chunks 0.05 s apart: never idle for 0.1 s
        await asyncio.sleep(0.05)
        watch.last = loop.time()
    assert fired == []
    await asyncio.sleep(0.3)
    assert len(fired) == 1 and fired[0] - started >= 0.25 + 0.1 - 0.01


async def test_a_cancelled_idle_watch_never_fires():
    fired = []
    watch = IdleWatch(0.05, lambda: fired.append(1))
    watch.cancel()
    watch.cancel()
    await asyncio.sleep(0.1)
    assert fired == []
