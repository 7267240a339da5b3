"""The lint stage: SwallowCode's pylint score with the comment penalty, in a worker pool.

pylint runs in-process, never as one ``pylint`` process per snippet: each of ``workers``
long-lived processes configures pylint and builds the common standard-library trees once, then
lints every snippet in a child it forks from that warm state (see :mod:`.lint_worker`). Starting
pylint and building those trees costs about a second per snippet; a fork costs milliseconds.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import llmkit

from llmkit_rewrite_code.lint_worker import LintResult, init_worker, lint_in_worker, penalised_score, worker_status
from llmkit_rewrite_code.stages import field_clash, passed_stage

DEFAULT_THRESHOLD = 7.0


class LintStep(llmkit.Step):
    """Keeps snippets whose penalised pylint score is at least ``threshold``.

    Adds ``lint_score`` (penalised), ``lint_raw_score`` (pylint's note, 2 decimals, as pylint
    prints it) and ``comment_ratio``. Rejects ``lint`` (score below the threshold, or no score:
    a snippet with no statement), ``lint_timeout``, ``lint_error`` (pylint crashed on the snippet;
    the detail says how; the run goes on).
    """

    name = "lint"
    batch_size = 256

    def __init__(self, field: str, threshold: float = DEFAULT_THRESHOLD, workers: int | None = None,
                 timeout: float | None = 120.0) -> None:
        self.field = field
        self.threshold = threshold
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self._pool: Any = None
        self._root: str | None = None

    def open(self) -> None:
        # before any worker starts: a missing pylint is the user's extra to install (exit 69),
        # not a worker failure to report as a bug
        llmkit.require("pylint", "rewrite", "the lint stage")
        # spawn: workers start from a clean interpreter (no model threads or CUDA state forked)
        context = multiprocessing.get_context("spawn")
        self._root = tempfile.mkdtemp(prefix="llmkit-lint-")
        with _sigint_ignored():  # the workers start with Ctrl-C ignored: the parent stops them (close)
            self._pool = context.Pool(self.workers, initializer=init_worker, initargs=(self.timeout, os.getcwd(), self._root))
        problems = {status for status in self._pool.map(worker_status, range(self.workers), chunksize=1) if status}
        if problems:
            self.close()
            raise RuntimeError(f"the lint workers could not start pylint: {'; '.join(sorted(problems))}")

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        if self._pool is None:
            self.open()
        codes = [field_clash(record, self.name) or llmkit.get_text_field(record, self.field) for record in records]
        todo = [code for code in codes if isinstance(code, str)]
        results = iter(self._pool.imap(lint_in_worker, todo, chunksize=1))
        outcomes: list[llmkit.Outcome] = []
        for record, code in zip(records, codes):
            outcomes.append(code if isinstance(code, llmkit.Reject) else self._judge(record, next(results)))
        return outcomes

    def _judge(self, record: llmkit.Record, result: LintResult) -> llmkit.Outcome:
        if result.timed_out:
            return llmkit.Reject("lint_timeout", result.detail)
        if result.error:
            return llmkit.Reject("lint_error", result.detail)
        if result.raw_score is None:
            return llmkit.Reject("lint", result.detail)
        score = penalised_score(result.raw_score, result.comment_ratio)
        if score < self.threshold:
            return llmkit.Reject("lint", f"score {score:.2f} < {self.threshold:g} (pylint {result.raw_score:.2f}, "
                                         f"comment ratio {result.comment_ratio:.3f})")
        return passed_stage({**record, "lint_score": score, "lint_raw_score": result.raw_score,
                             "comment_ratio": result.comment_ratio}, self.name)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


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
