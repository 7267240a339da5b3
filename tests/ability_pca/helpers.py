"""Running ``llmkit ability-pca`` in-process with real exit statuses, and writing inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from llmkit.cli import main


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def run_cli(args: list[str], tmp_path: Path, capsys) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, output records and stderr of ``llmkit ability-pca ARGS -o FILE``."""
    out = tmp_path / "out.jsonl"
    if out.exists():
        out.unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["ability-pca", *args, "-o", str(out)])
    stderr = capsys.readouterr().err
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []
    return exit_info.value.code, records, stderr


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
