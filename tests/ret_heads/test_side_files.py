"""ret-heads' files besides -o under the contract's output rules, and bad head records named
(issue 25): pairs' -o, --rejects and spill; mask's checkpoint folder and --heads; summary's stored
threshold and repeated heads; detect's options checked before the model loads."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

import llmkit.backends
from llmkit.testing import run_command


def _run(argv: list[str]) -> tuple[int, str, str]:
    run = run_command(argv)
    return run.status, run.stdout.decode(), run.stderr


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "prompt": "Say hi."}\n{"id": 2, "prompt": "Say bye."}\n')
    return path


def _pairs(source: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["ret-heads", "pairs", "--backend", "hf", "--model", str(tmp_path / "no-model"), "--masked", str(tmp_path / "no-twin"),
            "-i", str(source), "-q", *extra]


def test_pairs_never_empties_its_input(tmp_path):
    source = _prompts(tmp_path)
    before = source.read_bytes()
    for extra in (["-o", str(source)], ["-o", str(tmp_path / "o.jsonl"), "--spill", str(source)],
                  ["-o", str(tmp_path / "o.jsonl"), "--rejects", str(source)], ["--spill", f"{tmp_path}/./in.jsonl"]):
        code, _, err = _run(_pairs(source, tmp_path, *extra))
        assert code == 2 and "is the input" in err, (extra, err)
        assert source.read_bytes() == before
    assert not (tmp_path / "o.jsonl").exists()


def test_pairs_spill_and_output_must_differ(tmp_path):
    source = _prompts(tmp_path)
    out = tmp_path / "o.jsonl"
    code, _, err = _run(_pairs(source, tmp_path, "-o", str(out), "--spill", str(out)))
    assert code == 2 and "same file" in err


@pytest.mark.parametrize("locked", ["out", "spill"])
def test_pairs_with_a_locked_output_changes_nothing_and_generates_nothing(tmp_path, locked):
    source = _prompts(tmp_path)
    out, spill = tmp_path / "o.jsonl", tmp_path / "o.jsonl.chosen.jsonl"
    out.write_text('{"id": 0}\n')
    spill.write_text('{"id": 0, "chosen": "x"}\n')
    with open(out if locked == "out" else spill, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        # the model does not exist: a run that reached generation would exit 69, not 75
        code, _, err = _run(_pairs(source, tmp_path, "-o", str(out)))
    assert code == 75, err
    assert out.read_text() == '{"id": 0}\n' and spill.read_text() == '{"id": 0, "chosen": "x"}\n'


def _heads(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_mask_output_that_is_a_file_is_74_and_the_heads_file_2(tmp_path):
    heads = _heads(tmp_path / "heads.jsonl", [{"model": "m", "layer": 0, "head": 0, "score": 0.5}])
    a_file = tmp_path / "a_file"
    a_file.write_text("kept")
    base = ["ret-heads", "mask", "--model", str(tmp_path / "no-model"), "--heads", str(heads), "--top-k", "1"]
    code, _, err = _run([*base, "-o", str(a_file)])
    assert code == 74 and f"-o/--output {a_file}" in err and a_file.read_text() == "kept"
    code, _, err = _run([*base, "-o", str(heads)])
    assert code == 2 and "is the input" in err


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"layer": 0, "head": 0, "score": "nan"}, "score"),
        ({"layer": 0, "head": 0, "score": "inf"}, "score"),
        ({"layer": 1.7, "head": 0, "score": 0.5}, "layer"),
        ({"layer": 0, "head": "1", "score": 0.5}, "head"),
        ({"layer": 0, "head": 0, "score": True}, "score"),
        ({"layer": -1, "head": 0, "score": 0.5}, "layer"),
    ],
)
def test_mask_names_a_bad_head_record(tmp_path, row, field):
    heads = _heads(tmp_path / "heads.jsonl", [{"model": "m", "layer": 1, "head": 1, "score": 0.1}, {"model": "m", **row}])
    code, _, err = _run(["ret-heads", "mask", "--model", str(tmp_path / "no-model"), "--heads", str(heads), "--top-k", "1",
                         "-o", str(tmp_path / "out")])
    assert code == 65 and f"{heads}:2" in err and f"field {field!r}" in err, err
    assert not (tmp_path / "out").exists()  # the folder the claim made is gone with the failure


def test_mask_refuses_a_head_listed_twice(tmp_path):
    row = {"model": "m", "layer": 0, "head": 0, "score": 0.5}
    heads = _heads(tmp_path / "heads.jsonl", [row, row])
    code, _, err = _run(["ret-heads", "mask", "--model", str(tmp_path / "no-model"), "--heads", str(heads), "--top-k", "1",
                         "-o", str(tmp_path / "out")])
    assert code == 65 and f"{heads}:2" in err and "twice" in err


def test_summary_rejects_a_bad_stored_threshold_and_repeated_heads(tmp_path):
    rows = [{"type": "head", "model": "m", "layer": 0, "head": h, "score": s} for h, s in enumerate([0.9, 0.05])]
    first = _heads(tmp_path / "a.jsonl", [*rows, {"type": "summary", "model": "m", "threshold": "abc"}])
    again = _heads(tmp_path / "b.jsonl", rows)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = _run(["ret-heads", "summary", "-i", str(first), "-i", str(again), "--rejects", str(rejects), "-q"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["heads"] == 2 and summary["retrieval_heads"] == 1  # counted once; the default threshold 0.1
    reasons = [(r["reject"]["reason"], r["reject"]["source"]) for r in map(json.loads, rejects.read_text().splitlines())]
    assert reasons == [("bad_threshold", f"{first}:3"), ("duplicate", f"{again}:1"), ("duplicate", f"{again}:2")]


def test_detect_missing_haystack_is_refused_before_the_model_loads(tmp_path):
    code, _, err = _run(["ret-heads", "detect", "--model", str(tmp_path / "no-model"), "--haystack", str(tmp_path / "none.jsonl")])
    assert code == 2 and "--haystack" in err, err


def test_detect_too_short_lengths_are_refused_before_the_model_loads(tiny_llama, tmp_path, monkeypatch):
    def loaded(*args, **kwargs):
        raise AssertionError("the model loaded before --lengths was checked")

    monkeypatch.setattr(llmkit.backends, "load_causal_lm", loaded)
    code, _, err = _run(["ret-heads", "detect", "--model", str(tiny_llama), "--lengths", "3,500"])
    assert code == 2 and "--lengths 3 is too short" in err, err


def test_detect_plot_naming_the_needles_is_refused(tmp_path):
    needles = tmp_path / "needles.jsonl"
    needles.write_text('{"context": "The key is blue.", "question": "What is the key?", "answer": "blue"}\n')
    before = needles.read_bytes()
    code, _, err = _run(["ret-heads", "detect", "--model", str(tmp_path / "no-model"), "--needles", str(needles),
                         "--plot", str(needles)])
    assert code in (2, 74) and "--plot" in err, err
    assert needles.read_bytes() == before


def test_pairs_refuses_the_ray_executor_before_touching_a_file(tmp_path):
    source = _prompts(tmp_path)
    out = tmp_path / "o.jsonl"
    code, _, err = _run(_pairs(source, tmp_path, "-o", str(out), "--executor", "ray"))
    assert code == 2 and "--executor ray does not apply" in err, err
    assert not out.exists()
