"""The input records whose scores never reached the analysed matrix, as late rejects.

Whether a record counts is known only once the missing-value policy has run, after the last
record, so these go to ``--rejects`` from ``finish()`` (``llmkit.LateReject``). A record is
consumed (no output of its own) when its model is analysed and at least one of its scores (a
number or a null that was filled) is in an analysed column; otherwise its reason is:

- ``missing_scores``: its model was dropped (``--missing drop-models``), or every benchmark it
  scores was dropped for missing scores (``drop-benchmarks``; ``mean``: no model has it);
- ``constant_benchmark``: every benchmark it scores was dropped as constant;
- ``duplicate``: each of its analysed scores was replaced by a later one (``--duplicates last``).
"""

from __future__ import annotations

from collections.abc import Iterator

import llmkit

from llmkit_ability_pca.missing import MissingReport
from llmkit_ability_pca.table import ScoreCollector, ScoreMatrix, Taken

#: Names listed in a detail before it says "..."
SHOWN = 8


def late_rejects(collector: ScoreCollector, analysed: ScoreMatrix, report: MissingReport) -> Iterator[llmkit.LateReject]:
    """A late reject for every consumed record that contributed nothing to ``analysed``."""
    models, benchmarks = set(analysed.models), set(analysed.benchmarks)
    for index, taken in enumerate(collector.taken):
        reject = _why_unused(collector, index, taken, models, benchmarks, report)
        if reject is not None:
            yield llmkit.LateReject(taken.record, reject, taken.source)


def _why_unused(collector: ScoreCollector, index: int, taken: Taken, models: set[str], benchmarks: set[str],
                report: MissingReport) -> llmkit.Reject | None:
    if taken.model not in models:
        lacking = report.dropped_models.get(taken.model, [])
        return llmkit.Reject("missing_scores", f"model {taken.model!r} dropped by --missing {report.policy}: "
                                               f"no score for {_names(lacking)}")
    kept = [b for b in taken.benchmarks if b in benchmarks]
    if not kept:
        return _dropped_columns(taken.benchmarks, report)
    if collector.options.duplicates == "last":
        owners = [collector.cells[(taken.model, b)].owners[-1] for b in kept]
        if index not in owners:
            later = collector.taken[owners[0]].source or "a later record"
            return llmkit.Reject("duplicate", f"its score for {kept[0]!r} was replaced by the one at {later} "
                                              "(--duplicates last)")
    return None


def _dropped_columns(scored: list[str], report: MissingReport) -> llmkit.Reject:
    constant = [b for b in scored if b in report.constant_benchmarks]
    missing = [b for b in scored if b not in report.constant_benchmarks]
    if not missing:
        return llmkit.Reject("constant_benchmark", f"benchmark(s) {_names(constant)} dropped: every model has the same score")
    detail = f"benchmark(s) {_names(missing)} dropped by --missing {report.policy}"
    lacking = sorted({m for b in missing for m in report.dropped_benchmarks.get(b, [])})
    if lacking:
        detail += f" (no score from {_names(lacking)})"
    if constant:
        detail += f"; constant benchmark(s) {_names(constant)} dropped"
    return llmkit.Reject("missing_scores", detail)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "") if names else "(none)"
