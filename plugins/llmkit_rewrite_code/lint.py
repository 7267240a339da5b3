"""The lint stage: SwallowCode's pylint score with the comment penalty, in a worker pool.

pylint runs in-process, never as one ``pylint`` process per snippet: each of ``workers``
long-lived processes configures pylint and builds the common standard-library trees once, then
lints every snippet in a child it forks from that warm state (see :mod:`.lint_worker`; the
processes and their pipes: :mod:`.lint_pool`). Starting
pylint and building those trees costs about a second per snippet; a fork costs milliseconds.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import llmkit

from llmkit_rewrite_code.lint_folders import make_folder
from llmkit_rewrite_code.lint_pool import LintPool
from llmkit_rewrite_code.lint_worker import LintResult, penalised_score
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
        self._root = make_folder()
        try:
            self._pool = LintPool(self.workers, self.timeout, self._root)
        except BaseException:
            self.close()
            raise

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        if self._pool is None:
            self.open()
        codes = [field_clash(record, self.name) or llmkit.get_text_field(record, self.field) for record in records]
        todo = [code for code in codes if isinstance(code, str)]
        results = iter(self._pool.lint(todo))
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
        """Stop the workers and remove their folder; safe when they are already dead, and again."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None:
                pool.close()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
