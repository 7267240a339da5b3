"""overlap and layers on hand-made neuron sets, against matrices and counts computed by hand."""

from __future__ import annotations

import pytest

from llmkit_neuron_attr.neurons import read_neuron_sets
from llmkit.testing import run_command
from tests.neuron_attr.neuron_sets import write_neuron_sets

SETS = {
    "a": [(0, 1), (0, 2), (1, 3)],
    "b": [(0, 2), (1, 3), (1, 4), (3, 5)],
    "c": [(0, 2), (2, 0)],
}


def _write(path, sets, layers=4, width=8):
    return write_neuron_sets(path, sets, layers, width)


def _run(args):
    run = run_command(["neuron-attr", *args, "-q"])
    return run.status, run.outputs, run.stderr


def test_overlap_matrices_shared_and_specific(tmp_path):
    source = _write(tmp_path / "n.jsonl", SETS)
    shared, specific = tmp_path / "shared.jsonl", tmp_path / "specific.jsonl"
    code, out, _ = _run(["overlap", "-i", source, "--shared", str(shared), "--specific", str(specific)])
    assert code == 0
    pairs = {(r["task_a"], r["task_b"]): r for r in out if r["kind"] == "pair"}
    # by hand: a&b = {(0,2),(1,3)}, a|b has 5; a&c = {(0,2)}, a|c has 4; b&c = {(0,2)}, b|c has 5
    expected = {("a", "b"): (2 / 5, 2 / 3), ("a", "c"): (1 / 4, 1 / 2), ("b", "c"): (1 / 5, 1 / 2), ("a", "a"): (1.0, 1.0)}
    for (x, y), (jaccard, coefficient) in expected.items():
        for key in ((x, y), (y, x)):
            assert pairs[key]["jaccard"] == pytest.approx(jaccard)
            assert pairs[key]["overlap_coefficient"] == pytest.approx(coefficient)
    assert len(pairs) == 9
    assert [r for r in out if r["kind"] == "shared"] == [{"kind": "shared", "tasks": 3, "min_tasks": 3, "count": 1}]
    shared_sets = read_neuron_sets([str(shared)])
    assert shared_sets["shared"].neurons == [(0, 2)] and shared_sets["shared"].layers == 4
    specific_sets = read_neuron_sets([str(specific)])
    assert specific_sets["a"].ordered() == [(0, 1), (1, 3)]
    assert specific_sets["b"].ordered() == [(1, 3), (1, 4), (3, 5)]
    assert specific_sets["c"].ordered() == [(2, 0)]


def test_min_tasks_and_top_k(tmp_path):
    source = _write(tmp_path / "n.jsonl", SETS)
    shared = tmp_path / "shared.jsonl"
    code, out, _ = _run(["overlap", "-i", source, "--min-tasks", "2", "--shared", str(shared)])
    assert code == 0
    # (0,2) is in three sets, (1,3) in two: more tasks first
    assert read_neuron_sets([str(shared)])["shared"].ordered() == [(0, 2), (1, 3)]
    code, out, _ = _run(["overlap", "-i", source, "--top-k", "1"])
    pairs = {(r["task_a"], r["task_b"]): r["jaccard"] for r in out if r["kind"] == "pair"}
    assert pairs[("a", "b")] == 0.0 and pairs[("b", "c")] == 1.0  # a: {(0,1)}, b: {(0,2)}, c: {(0,2)}


def test_sets_of_models_of_other_shapes_are_refused(tmp_path):
    first = _write(tmp_path / "one.jsonl", {"a": SETS["a"]})
    second = _write(tmp_path / "two.jsonl", {"b": SETS["b"]}, layers=6)
    code, _, err = _run(["overlap", "-i", first, "-i", second])
    assert code == 2 and "different shapes" in err


def test_layers_distribution_by_hand(tmp_path):
    source = _write(tmp_path / "n.jsonl", {"b": SETS["b"]})
    code, out, _ = _run(["layers", "-i", source, "--bins", "2"])
    assert code == 0
    by_layer = [(r["layer"], r["depth"], r["count"], r["fraction"], r["layer_share"]) for r in out if r["kind"] == "layer"]
    assert by_layer == [(0, 0.0, 1, 0.25, 1 / 8), (1, 0.25, 2, 0.5, 2 / 8), (2, 0.5, 0, 0.0, 0.0), (3, 0.75, 1, 0.25, 1 / 8)]
    bins = [(r["depth_start"], r["count"], r["fraction"]) for r in out if r["kind"] == "bin"]
    assert bins == [(0.0, 3, 0.75), (0.5, 1, 0.25)]


def test_bad_neuron_record_names_its_line(tmp_path):
    source = tmp_path / "n.jsonl"
    source.write_text('{"task": "a", "layers": 2, "layer": 0, "index": 1}\n{"task": "a", "layers": 2, "layer": -1, "index": 1}\n')
    code, _, err = _run(["overlap", "-i", str(source)])
    assert code == 65 and f"{source}:2" in err and "layer" in err
