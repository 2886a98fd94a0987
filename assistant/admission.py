"""Admission control: at most `max_concurrent_answers` answers run at once, `max_queued_answers` more wait in line,
and any request beyond that is refused at once with `Busy` rather than queued without bound.

One `Admission` per process (`admission(settings)`), shared by every face it serves (the page and /v1 beside it), so
the bound is the machine's, not each face's. Waiting is first come, first served; a freed slot is handed straight to
the next waiter, sync (a thread) or async (an event loop), so no waiter holds a thread it does not need."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

from assistant.errors import AssistantError
from assistant.settings import Settings

BUSY = "The assistant is busy, try again in a few seconds"
RETRY_AFTER_S = 5  # what a refused client is told to wait: a few answers' time on 2 cores
T = TypeVar("T")


class Busy(AssistantError):
    """Every answer slot and every place in line is taken; `retry_after` is the seconds to wait before trying again."""

    def __init__(self, retry_after: int = RETRY_AFTER_S):
        super().__init__(BUSY)
        self.retry_after = retry_after


class _Waiter:
    """One request in line: woken by a thread event, or by a future on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.loop = loop
        self.event = threading.Event() if loop is None else None
        self.future: asyncio.Future | None = loop.create_future() if loop is not None else None

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Admission:
    """A bounded line in front of the answers: `concurrency` run, `queue` wait, the rest get `Busy` at once."""

    def __init__(self, concurrency: int, queue: int, retry_after: int = RETRY_AFTER_S):
        self.concurrency, self.queue, self.retry_after = concurrency, queue, retry_after
        self.running = 0
        self.refused = 0
        self._line: deque[_Waiter] = deque()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)  # notified on every change: tests wait on it, never sleep

    @property
    def waiting(self) -> int:
        return len(self._line)

    def _enter(self, loop: asyncio.AbstractEventLoop | None) -> _Waiter | None:
        """Under the lock: a slot now (None), a place in line (the waiter), or Busy."""
        if self.running < self.concurrency and not self._line:
            self.running += 1
            self.changed.notify_all()
            return None
        if len(self._line) >= self.queue:
            self.refused += 1
            self.changed.notify_all()
            raise Busy(self.retry_after)
        waiter = _Waiter(loop)
        self._line.append(waiter)
        self.changed.notify_all()
        return waiter

    def _leave(self) -> None:
        """Give the slot to the first in line, or free it."""
        with self._lock:
            if self._line:
                self._line.popleft().wake()  # the slot passes on: `running` stays
            else:
                self.running -= 1
            self.changed.notify_all()

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter that gave up (cancelled): out of line, or, if it was handed the slot meanwhile, pass it on."""
        with self._lock:
            if waiter in self._line:
                self._line.remove(waiter)
                self.changed.notify_all()
                return
        self._leave()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one answer slot for the block, waiting in line for it; Busy when the line is full."""
        with self._lock:
            waiter = self._enter(None)
        if waiter is not None:
            try:
                waiter.event.wait()
            except BaseException:
                self._abandon(waiter)
                raise
        try:
            yield
        finally:
            self._leave()

    @asynccontextmanager
    async def aslot(self) -> AsyncIterator[None]:
        """`slot` for coroutines: waiting in line holds no thread."""
        with self._lock:
            waiter = self._enter(asyncio.get_running_loop())
        if waiter is not None:
            try:
                await waiter.future
            except BaseException:
                self._abandon(waiter)
                raise
        try:
            yield
        finally:
            self._leave()

    def admitted(self, items: Iterator[T]) -> Iterator[T]:
        """`items` (a lazy stream, e.g. Assistant.stream) produced inside one slot, taken before the first item."""
        with self.slot():
            yield from items


_shared: dict[tuple[int, int], Admission] = {}
_shared_lock = threading.Lock()


def admission(settings: Settings) -> Admission:
    """The process's admission for these limits, made on first use and shared by every face."""
    key = (settings.max_concurrent_answers, settings.max_queued_answers)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Admission(*key)
        return _shared[key]
