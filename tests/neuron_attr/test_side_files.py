"""neuron-attr's side files (--shared, --specific, --scores, --export, --plot) under the contract's
output rules, ranks beyond a double, and K checked before anything is evaluated (issue 25)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

import llmkit_neuron_attr.conditions as conditions
from llmkit.cli import build_app
from llmkit_neuron_attr.neurons import read_neuron_sets
from llmkit_neuron_attr.options import AblateConfig, CrossConfig, OverlapConfig, ScoreConfig
from llmkit.testing import run_command
from tests.neuron_attr.neuron_sets import write_neuron_sets
from tests.neuron_attr.planted import task_records

SETS = {"a": [(0, 1), (0, 2), (1, 3)], "b": [(0, 2), (1, 3), (1, 4)]}


def _write_sets(path, sets, layers=2, width=128):
    return write_neuron_sets(path, sets, layers, width)


def _run(args):
    run = run_command(["neuron-attr", *args, "-q"])
    return run.status, run.stdout.decode(), run.stderr


def test_overlap_side_files_are_never_the_input_nor_another_output(tmp_path):
    source = _write_sets(tmp_path / "n.jsonl", SETS)
    before = (tmp_path / "n.jsonl").read_bytes()
    out, side = tmp_path / "out.jsonl", tmp_path / "side.jsonl"
    cases = [
        (["--shared", source], "--shared .* is the input"),
        (["--specific", f"{tmp_path}/./n.jsonl"], "--specific .* is the input"),
        (["-o", str(out), "--shared", str(out)], "--shared .* and -o/--output .* are the same file"),
        (["--shared", str(side), "--specific", str(side)], "--specific .* and --shared .* are the same file"),
    ]
    for args, message in cases:
        code, _, err = _run(["overlap", "-i", source, *args])
        assert code == 2, err
        assert pytest.importorskip("re").search(message, err), err
    assert (tmp_path / "n.jsonl").read_bytes() == before
    assert not out.exists() and not side.exists()


def test_overlap_unwritable_shared_is_74_before_the_run(tmp_path):
    source = _write_sets(tmp_path / "n.jsonl", SETS)
    out = tmp_path / "out.jsonl"
    missing = tmp_path / "no" / "shared.jsonl"
    code, _, err = _run(["overlap", "-i", source, "-o", str(out), "--shared", str(missing)])
    assert code == 74 and f"--shared {missing}" in err
    assert not out.exists()  # refused before -o was opened


def test_overlap_and_layers_take_ranks_beyond_a_double(tmp_path):
    rows = [
        b'{"task": "a", "layers": 2, "width": 8, "layer": 1, "index": 0, "rank": 1' + b"0" * 400 + b"}",
        b'{"task": "a", "layers": 2, "width": 8, "layer": 0, "index": 5, "rank": 3}',
        b'{"task": "a", "layers": 2, "width": 8, "layer": 0, "index": 6, "rank": 2}',
    ]
    source = tmp_path / "n.jsonl"
    source.write_bytes(b"\n".join(rows) + b"\n")
    shared = tmp_path / "shared.jsonl"
    code, _, err = _run(["overlap", "-i", str(source), "--top-k", "2", "--shared", str(shared)])
    assert code == 0, err
    assert read_neuron_sets([str(shared)])["shared"].neurons == [(0, 6), (0, 5)]  # the huge rank is last
    code, out, err = _run(["layers", "-i", str(source), "--top-k", "2"])
    assert code == 0, err
    counts = {r["layer"]: r["count"] for r in map(orjson.loads, out.splitlines())}
    assert counts == {0: 2, 1: 0}


def test_layers_plot_naming_the_input_leaves_it_alone(tmp_path):
    source = _write_sets(tmp_path / "n.jsonl", SETS)
    before = (tmp_path / "n.jsonl").read_bytes()
    code, _, err = _run(["layers", "-i", source, "--plot", source])
    assert code in (2, 74) and "--plot" in err
    assert (tmp_path / "n.jsonl").read_bytes() == before


def test_score_scores_is_claimed_before_the_model_loads(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))
    missing = tmp_path / "no" / "s.safetensors"
    code, _, err = _run(["score", "-m", str(tmp_path / "no-model"), "-i", str(tasks), "--scores", str(missing)])
    assert code == 74 and f"--scores {missing}" in err
    code, _, err = _run(["score", "-m", str(tmp_path / "no-model"), "-i", str(tasks), "--scores", str(tasks)])
    assert code == 2 and "is the input" in err


def test_score_writes_scores_through_a_link(tiny_llama, tmp_path):
    from safetensors import safe_open

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))
    real, link = tmp_path / "real.safetensors", tmp_path / "link.safetensors"
    real.write_bytes(b"old")
    link.symlink_to(real)
    code, _, err = _run(["score", "-m", str(tiny_llama), "-i", str(tasks), "--top-k", "3", "--scores", str(link)])
    assert code == 0, err
    assert link.is_symlink()
    with safe_open(str(real), "pt") as tensors:
        assert tensors.get_tensor("upper").shape == (2, 128)


def test_ablate_k_beyond_the_set_is_refused_before_the_model_loads(tmp_path):
    neurons = _write_sets(tmp_path / "n.jsonl", {"a": SETS["a"]})
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))
    code, _, err = _run(["ablate", "-m", str(tmp_path / "no-model"), "--neurons", neurons, "-i", str(tasks), "--k-grid", "1,100"])
    assert code == 2 and "K=100" in err, err


def test_ablate_k_the_model_cannot_control_is_refused_before_evaluating(tiny_llama, tmp_path, monkeypatch):
    big = {"a": [(layer, index) for layer in range(2) for index in range(100)]}  # 200 of the model's 256 neurons
    neurons = _write_sets(tmp_path / "n.jsonl", big)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))

    def evaluated(*args, **kwargs):
        raise AssertionError("an evaluation ran before K was checked")

    monkeypatch.setattr(conditions, "item_correct", evaluated)
    code, _, err = _run(["ablate", "-m", str(tiny_llama), "--neurons", neurons, "-i", str(tasks), "--k-grid", "10,150", "--seeds", "1"])
    assert code == 2 and "K=150" in err and "random control" in err, err


def test_ablate_export_into_a_file_is_74_and_a_nonempty_folder_2(tmp_path):
    neurons = _write_sets(tmp_path / "n.jsonl", {"a": SETS["a"]})
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))
    base = ["ablate", "-m", str(tmp_path / "no-model"), "--neurons", neurons, "-i", str(tasks), "--top-k", "1"]
    code, _, err = _run([*base, "--export", str(tasks)])
    assert code == 2 and "--export" in err and "is the input" in err
    a_file = tmp_path / "a_file"
    a_file.write_text("kept")
    code, _, err = _run([*base, "--export", str(a_file)])
    assert code == 74 and f"--export {a_file}" in err and a_file.read_text() == "kept"
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    code, _, err = _run([*base, "--export", str(full)])
    assert code == 2 and "not empty" in err


def test_each_neuron_attr_option_is_declared_once_in_its_option_set():
    group = build_app().commands["neuron-attr"]
    for command, config in (("score", ScoreConfig), ("ablate", AblateConfig), ("cross-ablate", CrossConfig), ("overlap", OverlapConfig)):
        flags = {opt for param in group.commands[command].params for opt in param.opts}
        for field in dataclasses.fields(config):
            assert f"--{field.name.replace('_', '-')}" in flags, (command, field.name)


def test_score_streams_scores_into_a_fifo_and_leaves_it_one(tiny_llama, tmp_path):
    import os
    import stat
    import threading

    from safetensors.torch import load

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")[:3]))
    fifo = tmp_path / "scores.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = _run(["score", "-m", str(tiny_llama), "-i", str(tasks), "--top-k", "3", "--scores", str(fifo)])
    reader.join(timeout=60)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # written to, not replaced by a regular file
    assert load(received[0])["upper"].shape == (2, 128)
