"""A thread pool that never holds up the interpreter's exit, for the openai backend's requests.

``concurrent.futures.ThreadPoolExecutor`` joins its threads at exit, so an interrupted run (Ctrl-C,
exit 130) would wait for every request in flight, up to ``--request-timeout``. Here the workers are
daemon threads, and :meth:`DaemonPool.close` fails every unfinished future at once, so a caller
waiting on them is released even while a request hangs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonPool:
    def __init__(self, workers: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future, Callable[[Any], Any], Any] | None] = queue.SimpleQueue()
        self._unfinished: set[Future] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._workers = workers
        for index in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True).start()

    def submit(self, call: Callable[[Any], Any], item: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            self._unfinished.add(future)
        self._tasks.put((future, call, item))
        return future

    def close(self, reason: BaseException) -> None:
        """Fail every unfinished future with ``reason`` and let the workers go."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for future in self._unfinished:
                if not future.done():
                    future.set_exception(reason)
            self._unfinished.clear()
        for _ in range(self._workers):
            self._tasks.put(None)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, call, item = task
            if future.done():  # cancelled, or failed by close()
                continue
            try:
                outcome, failed = call(item), False
            except BaseException as exc:  # handed to the waiting caller, whatever it is
                outcome, failed = exc, True
            with self._lock:
                self._unfinished.discard(future)
                if not future.done():
                    future.set_exception(outcome) if failed else future.set_result(outcome)
