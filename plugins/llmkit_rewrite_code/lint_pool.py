"""The lint stage's worker processes: each warm linter behind a pipe of its own.

Not a ``multiprocessing.Pool``: a pool's workers share one task queue, guarded by a lock that a
worker holds while it waits for work. A worker killed from outside (Ray stopping a replica kills
its children first; the out-of-memory killer) dies holding that lock, and ``Pool.terminate``
then waits for it for ever, with the worker's zombie and the temporary folder left behind. Here
every worker has its own duplex pipe and nothing is shared, so :meth:`LintPool.close` never waits
on a dead process: it asks each to stop, kills what does not, and reaps them all. A worker that
dies while linting a snippet is seen at once (its pipe ends): that snippet is a ``lint_error``
and a new worker takes its place. A worker also leaves when the process that started it dies,
however it dies: its pipe then ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from llmkit_rewrite_code.lint_worker import LintResult, comment_ratio, init_worker, lint_in_worker, worker_status

#: seconds a worker gets to leave on its own when the pool closes, before it is killed
_GRACE = 2.0


class LintPool:
    """``workers`` processes, each a warm linter fed one snippet at a time."""

    def __init__(self, workers: int, timeout: float | None, root: str) -> None:
        self.timeout, self.root = timeout, root
        self.context = multiprocessing.get_context("spawn")  # workers start from a clean interpreter
        self.workers: list[tuple[Any, Connection]] = []
        try:
            for _ in range(workers):
                self.workers.append(self._start())
            problems = {status for status in (self._ready(conn) for _, conn in self.workers) if status}
        except BaseException:
            self.close()
            raise
        if problems:
            self.close()
            raise RuntimeError(f"the lint workers could not start pylint: {'; '.join(sorted(problems))}")

    def _start(self) -> tuple[Any, Connection]:
        mine, theirs = self.context.Pipe()
        with _sigint_ignored():  # workers start with Ctrl-C ignored: the parent stops them (close)
            process = self.context.Process(target=serve, args=(theirs, self.timeout, os.getcwd(), self.root),
                                           name="llmkit-lint", daemon=True)
            process.start()
        theirs.close()  # the worker's end lives in the worker only: its death ends the pipe here
        return process, mine

    @staticmethod
    def _ready(conn: Connection) -> str | None:
        try:
            status: str | None = conn.recv()
        except (EOFError, OSError):
            return "a lint worker died while it started"
        return status

    @property
    def processes(self) -> list[Any]:
        """The worker processes (``multiprocessing.Process``), for a look from outside."""
        return [process for process, _ in self.workers]

    def lint(self, codes: list[str]) -> list[LintResult]:
        """Each snippet's result, in order; the snippets spread over the workers as they free up."""
        results: list[LintResult | None] = [None] * len(codes)
        todo = iter(enumerate(codes))
        busy: dict[Connection, tuple[int, int]] = {}  # a worker's pipe -> (its slot, its snippet)
        for slot in range(len(self.workers)):
            self._feed(slot, todo, busy)
        while busy:
            for ready in wait(list(busy)):
                conn = cast(Connection, ready)
                slot, index = busy.pop(conn)
                try:
                    results[index] = conn.recv()
                except (EOFError, OSError):
                    results[index] = self._replace(slot, codes[index])
                self._feed(slot, todo, busy)
        return results  # type: ignore[return-value]

    def _feed(self, slot: int, todo: Iterator[tuple[int, str]], busy: dict[Connection, tuple[int, int]]) -> None:
        for index, code in todo:
            conn = self.workers[slot][1]
            try:
                conn.send(code)
            except OSError:  # the worker died while idle: a new one takes this snippet
                self._replace(slot, None)
                conn = self.workers[slot][1]
                conn.send(code)
            busy[conn] = (slot, index)
            return

    def _replace(self, slot: int, code: str | None) -> LintResult:
        """A new worker in the place of a dead one; the result of the snippet it died on."""
        process, conn = self.workers[slot]
        _stop(process, conn, grace=0)
        how = _died(process.exitcode)
        self.workers[slot] = self._start()
        problem = self._ready(self.workers[slot][1])
        if problem:
            raise RuntimeError(f"a lint worker died ({how}) and its replacement could not start pylint: {problem}")
        return LintResult(None, comment_ratio(code or ""), f"the lint worker died ({how})", error=True)

    def close(self) -> None:
        """Stop every worker and reap it; never waits on a dead one. Safe to call again."""
        for _, conn in self.workers:
            with contextlib.suppress(OSError):
                conn.send(None)  # leave now
        for process, conn in self.workers:
            _stop(process, conn, grace=_GRACE)
        self.workers = []


def _stop(process: Any, conn: Connection, grace: float) -> None:
    process.join(grace)
    if process.exitcode is None:
        process.kill()  # SIGKILL: a worker holds nothing that needs flushing
        process.join()
    conn.close()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"


def serve(conn: Connection, timeout: float | None, parent_cwd: str, root: str) -> None:
    """A worker's life: build the warm linter, say whether it is ready, then lint each snippet
    that comes until told to stop (None) or the pipe ends."""
    init_worker(timeout, parent_cwd, root)
    conn.send(worker_status())
    while True:
        try:
            code = conn.recv()
        except (EOFError, OSError):
            return
        if code is None:
            return
        conn.send(lint_in_worker(code))


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while workers are started. A Ctrl-C reaches the whole process group; a
    worker that took it printed a KeyboardInterrupt traceback of its own beside the run's clean
    exit 130. An ignored signal stays ignored across spawn's exec, from the worker's first line
    on (a handler installed later, in the initializer, would leave its start-up exposed)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
