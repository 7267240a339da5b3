"""One public way to say which records are being processed: ``processing_records``, which the
executors and ``llmkit.testing`` both use, so ``source_of`` answers alike in a run and in a test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import llmkit
from llmkit.contract import processing_records

ROOT = Path(__file__).resolve().parents[2]


def test_records_are_named_by_their_lines_while_the_block_runs():
    first, second, stranger = {"n": 1}, {"n": 1}, {"n": 1}  # equal, but not the same records
    with processing_records("data.jsonl", [first, second], [7, 9]):
        assert [llmkit.source_of(first), llmkit.source_of(second)] == ["data.jsonl:7", "data.jsonl:9"]
        assert llmkit.source_of(stranger) is None
    assert llmkit.source_of(first) is None


def test_lines_count_from_one_by_default_and_an_inner_block_gives_the_outer_back():
    outer, inner = [{"a": 0}, {"a": 1}, {"a": 2}], [{"b": 0}]
    with processing_records("<records>", outer):
        assert [llmkit.source_of(r) for r in outer] == ["<records>:1", "<records>:2", "<records>:3"]
        with pytest.raises(RuntimeError), processing_records("side.jsonl", inner, [4]):
            assert llmkit.source_of(inner[0]) == "side.jsonl:4" and llmkit.source_of(outer[0]) is None
            raise RuntimeError("a step that fails mid-batch")
        assert llmkit.source_of(outer[2]) == "<records>:3" and llmkit.source_of(inner[0]) is None


def _private_names_imported(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.name.startswith("_") and (node.module or "").startswith("llmkit")]


def test_llmkit_testing_imports_no_private_name_of_the_core():
    assert _private_names_imported(ROOT / "llmkit" / "testing.py") == []


def test_the_executors_set_the_batch_only_through_processing_records():
    # one place sets the context variable: every other core module goes through the manager
    setters = []
    for path in sorted((ROOT / "llmkit").rglob("*.py")):
        text = path.read_text()
        if "_current_batch.set(" in text:
            setters.append(str(path.relative_to(ROOT)))
    assert setters == ["llmkit/contract.py"]
    assert (ROOT / "llmkit" / "contract.py").read_text().count("_current_batch.set(") == 1
