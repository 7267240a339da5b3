"""Running ``llmkit docre ...`` in this process, and JSONL files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit.cli import run


def docre(*args: Any) -> int:
    return run(["docre", *map(str, args)])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return Path(path)
