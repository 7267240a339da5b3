"""Running ``llmkit ability-pca`` (through llmkit.testing) and building its inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit.testing import run_command, write_jsonl

__all__ = ["by_type", "run_cli", "wide_records", "write_jsonl"]


def run_cli(args: list[str], tmp_path: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, output records and stderr of ``llmkit ability-pca ARGS -o out.jsonl`` in ``tmp_path``."""
    (tmp_path / "out.jsonl").unlink(missing_ok=True)
    run = run_command(["ability-pca", *args, "-o", "out.jsonl"], workdir=tmp_path)
    return run.status, run.outputs, run.stderr


def by_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == kind]


def wide_records(values, models=None, benchmarks=None, **covariates) -> list[dict[str, Any]]:
    """Wide records from a matrix (None = null score); covariates are per-model lists."""
    n, p = len(values), len(values[0])
    models = models or [f"m{i}" for i in range(n)]
    benchmarks = benchmarks or [f"b{j}" for j in range(p)]
    records = []
    for i in range(n):
        record = {"model": models[i], "scores": {b: (None if values[i][j] is None else float(values[i][j]))
                                                 for j, b in enumerate(benchmarks)}}
        for name, column in covariates.items():
            record[name] = column[i]
        records.append(record)
    return records
