"""Score records in, a model x benchmark matrix out.

Three record shapes are accepted, one model per record or one cell per record:

- long:  ``{model, benchmark, score, ...}`` (one cell);
- wide:  ``{model, scores: {benchmark: score | null}, ...}``;
- flat:  ``{model, <benchmark>: score, ...}`` (``--benchmarks`` picks them; without it, a field
  that is numeric in any flat record is a benchmark in every flat record).

Every other field of a record is a per-model covariate (size, tokens, compute), carried to the
``model`` output records and usable by ``--regress-on``. A score that is present but not a number
stops the run (exit 65, naming FILE:LINE and the field); ``null`` or an absent benchmark is a
missing cell, handled later by the missing-value policy. A record with scores, but none for the
benchmarks analysed, is rejected at once (``not_selected`` for a long record of a benchmark
outside ``--benchmarks``, else ``no_scores``); every other record is kept (:class:`Taken`) until
:mod:`.dropped` knows whether any of its scores was analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import llmkit

import numpy as np


@dataclass(frozen=True)
class TableOptions:
    model_field: str = "model"
    benchmark_field: str = "benchmark"
    score_field: str = "score"
    scores_field: str = "scores"
    benchmarks: tuple[str, ...] | None = None  # selects and orders; None = every benchmark seen
    covariates: tuple[str, ...] = ()  # numeric fields that are never benchmarks (flat records)
    duplicates: str = "error"  # error | mean | last
    where: tuple[tuple[str, str], ...] = ()  # keep only records whose FIELD equals VALUE


@dataclass
class Cell:
    values: list[float | None]
    source: str | None  # where the first value came from
    owners: list[int] = field(default_factory=list)  # the Taken record (index) of each value


@dataclass
class Taken:
    """An input record the table consumed, kept until the analysis knows whether any of its
    scores reached the analysed matrix (if none did, it goes to --rejects after all)."""

    record: dict[str, Any]
    source: str | None
    model: str
    benchmarks: list[str]  # the analysed benchmarks it gave a score (or null) for


@dataclass
class ScoreMatrix:
    models: list[str]
    benchmarks: list[str]
    values: np.ndarray  # float, NaN = missing; rows = models, columns = benchmarks
    covariates: dict[str, dict[str, Any]]  # model -> field -> value

    def subset(self, rows: list[int], cols: list[int]) -> ScoreMatrix:
        return ScoreMatrix(
            [self.models[i] for i in rows],
            [self.benchmarks[j] for j in cols],
            self.values[np.ix_(np.asarray(rows, dtype=int), np.asarray(cols, dtype=int))],
            self.covariates,
        )


@dataclass
class ScoreCollector:
    """Collects records one by one (validating each while its FILE:LINE is known)."""

    options: TableOptions
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    models: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    benchmarks_seen: dict[str, None] = field(default_factory=dict)
    covariates: dict[str, dict[str, Any]] = field(default_factory=dict)
    covariate_conflicts: dict[str, list[str]] = field(default_factory=dict)  # field -> models
    flat_fields: dict[str, None] = field(default_factory=dict)  # auto-detected flat benchmarks
    # flat fields seen only with non-number values so far: field -> (value, source) of the first;
    # once the field is numeric in another record, that value is a non-number score (exit 65)
    flat_pending: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    flat_nulls: dict[str, list[str]] = field(default_factory=dict)  # field -> models with null there
    taken: list[Taken] = field(default_factory=list)  # every record consumed, in input order

    def add(self, record: dict[str, Any], source: str | None) -> llmkit.Reject | None:
        opts = self.options
        for name, wanted in opts.where:
            if _as_text(record.get(name)) != wanted:
                return llmkit.Reject("not_selected", f"{name} is not {wanted!r}")
        model = record.get(opts.model_field)
        if model is None or model == "" or isinstance(model, (dict, list)):
            return llmkit.Reject("missing_field", f"no model name in field {opts.model_field!r}")
        model = str(model)
        cells: list[str] = []  # filled by _put with the benchmarks this record scores
        if opts.benchmark_field in record:
            used = self._add_long(record, model, source, cells)
        elif isinstance(record.get(opts.scores_field), dict):
            used = self._add_wide(record, model, source, cells)
        else:
            used = self._add_flat(record, model, source, cells)
        if used is None:
            return llmkit.Reject("no_scores", "no benchmark score in the record")
        if not cells:
            return self._unselected(record)
        self.taken.append(Taken(record, source, model, cells))
        self.models.setdefault(model)
        self._add_covariates(model, {k: v for k, v in record.items() if k not in used})
        return None

    def _unselected(self, record: dict[str, Any]) -> llmkit.Reject:
        """The reject of a record with scores, but none for the benchmarks analysed."""
        opts = self.options
        if opts.benchmark_field in record:
            return llmkit.Reject("not_selected", f"benchmark {_as_text(record[opts.benchmark_field])!r} is not in --benchmarks")
        if opts.benchmarks is not None:
            return llmkit.Reject("no_scores", "no score for a benchmark of --benchmarks")
        return llmkit.Reject("no_scores", "no benchmark score in the record")

    def _add_long(self, record: dict[str, Any], model: str, source: str | None, cells: list[str]) -> set[str] | None:
        opts = self.options
        benchmark = record.get(opts.benchmark_field)
        if benchmark is None or isinstance(benchmark, (dict, list)):
            return None
        benchmark = str(benchmark)
        if opts.score_field not in record:
            return None
        if self._wanted(benchmark):
            value = _number(record[opts.score_field], source, opts.score_field)
            self._put(model, benchmark, value, source, cells)
        return {opts.model_field, opts.benchmark_field, opts.score_field}

    def _add_wide(self, record: dict[str, Any], model: str, source: str | None, cells: list[str]) -> set[str]:
        opts = self.options
        for benchmark, raw in record[opts.scores_field].items():
            if self._wanted(benchmark):
                self._put(model, benchmark, _number(raw, source, f"{opts.scores_field}.{benchmark}"), source, cells)
        return {opts.model_field, opts.scores_field}

    def _add_flat(self, record: dict[str, Any], model: str, source: str | None, cells: list[str]) -> set[str] | None:
        opts = self.options
        if opts.benchmarks is not None:
            names = [b for b in opts.benchmarks if b in record]
        else:
            names = self._detect_flat(record, model, source)
        if not names:
            return None
        for benchmark in names:
            self._put(model, benchmark, _number(record[benchmark], source, benchmark), source, cells)
        return {opts.model_field, *names}

    def _detect_flat(self, record: dict[str, Any], model: str, source: str | None) -> list[str]:
        """The record's benchmark fields: every field, but the model and declared covariates, that is
        numeric here or in any other flat record. A non-number value (string, list, bool, object)
        in such a field stops the run, whichever record comes first; null stays a missing cell."""
        skip = {self.options.model_field, *self.options.covariates}
        for name, value in record.items():
            if name in skip or name in self.flat_fields:
                continue
            if value is None:  # a missing cell if the field turns out to be a benchmark
                self.flat_nulls.setdefault(name, []).append(model)
            elif _is_number(value):
                self.flat_fields[name] = None
                if name in self.flat_pending:  # an earlier record held a non-number there
                    raw, where = self.flat_pending.pop(name)
                    _number(raw, where, name)
            else:
                self.flat_pending.setdefault(name, (value, source))
        return [k for k in record if k in self.flat_fields and k not in skip]

    def _wanted(self, benchmark: str) -> bool:
        return self.options.benchmarks is None or benchmark in self.options.benchmarks

    def _put(self, model: str, benchmark: str, value: float | None, source: str | None, cells: list[str]) -> None:
        self.benchmarks_seen.setdefault(benchmark)
        cells.append(benchmark)
        owner = len(self.taken)  # the index the record gets once add() takes it
        cell = self.cells.get((model, benchmark))
        if cell is None:
            self.cells[(model, benchmark)] = Cell([value], source, [owner])
            return
        if self.options.duplicates == "error":
            first = f" (first at {cell.source})" if cell.source else ""
            raise llmkit.InputError(
                f"duplicate score for model {model!r}, benchmark {benchmark!r}{first}; "
                "use --duplicates mean|last to combine them",
                source=source,
            )
        cell.values.append(value)
        cell.owners.append(owner)

    def _add_covariates(self, model: str, fields: dict[str, Any]) -> None:
        known = self.covariates.setdefault(model, {})
        for name, value in fields.items():
            if name not in known:
                known[name] = value
            elif known[name] != value:  # first value wins; the conflict is reported
                models = self.covariate_conflicts.setdefault(name, [])
                if model not in models:
                    models.append(model)

    def matrix(self) -> ScoreMatrix:
        """The collected cells as a matrix (NaN where missing), duplicates combined."""
        opts = self.options
        if opts.benchmarks is not None:
            absent = [b for b in opts.benchmarks if b not in self.benchmarks_seen]
            if absent:
                raise llmkit.UsageError(f"--benchmarks names {', '.join(map(repr, absent))}, which no record has")
            benchmarks = list(opts.benchmarks)
        else:
            benchmarks = list(self.benchmarks_seen)
        for name in self.flat_fields.keys() & self.flat_nulls.keys():  # null there was a missing score
            for model in self.flat_nulls[name]:
                if name in self.covariates.get(model, {}) and self.covariates[model][name] is None:
                    del self.covariates[model][name]
        models = list(self.models)
        values = np.full((len(models), len(benchmarks)), np.nan)
        col = {b: j for j, b in enumerate(benchmarks)}
        row = {m: i for i, m in enumerate(models)}
        for (model, benchmark), cell in self.cells.items():
            combined = _combine(cell.values, opts.duplicates)
            if combined is not None:
                values[row[model], col[benchmark]] = combined
        return ScoreMatrix(models, benchmarks, values, self.covariates)


def _combine(values: list[float | None], policy: str) -> float | None:
    if policy == "last":
        return values[-1]
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, source: str | None, field_name: str) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or not np.isfinite(value):
        raise llmkit.InputError(f"score is not a number: {value!r}", source=source, field=field_name)
    return float(value)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
