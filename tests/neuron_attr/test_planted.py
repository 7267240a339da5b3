"""A planted effect: a tiny model whose MLPs alone were trained on two tasks (see ``planted``).
Suppressing the top integrated-gradients neurons of ``upper`` drops it near chance and leaves
``recall`` within a few points; as many random neurons leave ``upper`` within a few points."""

from __future__ import annotations

import orjson
import pytest

from llmkit.testing import run_command
from tests.neuron_attr.planted import task_records, train_two_tasks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def two_task_model(tiny_byte, tmp_path_factory):
    return train_two_tasks(tiny_byte, tmp_path_factory.mktemp("two_tasks") / "model")


def _run(args):
    run = run_command(["neuron-attr", *args, "-q"])
    assert run.status == 0, run.stderr
    return run.outputs


def test_suppressing_a_tasks_top_neurons_collapses_it_and_only_it(two_task_model, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_bytes(b"".join(orjson.dumps(r) + b"\n" for t in ("upper", "recall") for r in task_records(t)))
    upper = tmp_path / "upper.jsonl"
    upper.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in task_records("upper")))
    neurons = tmp_path / "neurons.jsonl"
    scored = _run(["score", "-m", str(two_task_model), "-i", str(upper), "--method", "ig", "--steps", "16",
                   "--top-k", "64", "-o", str(neurons)])  # fmt: skip
    assert len(scored) == 64 and scored == [orjson.loads(line) for line in neurons.read_bytes().splitlines()]  # the -o file
    rows = _run(["ablate", "-m", str(two_task_model), "--neurons", str(neurons), "-i", str(tasks), "--seeds", "3",
                 "--batch-size", "64"])  # fmt: skip
    summary = {r["task"]: r for r in rows if r["condition"] == "summary"}
    assert summary["upper"]["none"] == 1.0 and summary["recall"]["none"] == 1.0
    assert summary["upper"]["top"] <= 0.35  # chance is 1/26
    assert summary["recall"]["top"] >= 0.94  # the other task keeps its accuracy
    assert summary["upper"]["random_mean"] >= 0.94  # as many random neurons do not matter
    assert summary["upper"]["k"] == 64 and summary["upper"]["seeds"] == 3
    assert all(r["layers"] == 2 and r["width"] == 256 for r in rows)
