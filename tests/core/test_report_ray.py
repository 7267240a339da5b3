"""A report written by the driver of an ``--executor ray`` run on the two-node test cluster: the
counts and generated tokens of the local run, the cluster's nodes, and what each replica did."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmkit.testing import parse_summary, write_jsonl
from tests.core.test_report import line_counts, validate
from tests.ray.conftest import ray_cluster  # noqa: F401 - the two-node cluster fixture

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_ray_report_has_the_cluster_and_the_local_counts(ray_cluster, tmp_path, tiny_llama):  # noqa: F811
    records = [{"id": f"q{n}", "instruction": f"Name a colour number {n}."} for n in range(6)]
    records.append({"id": "q6", "prompt": "no instruction here"})
    data = write_jsonl(tmp_path / "in.jsonl", records)
    gen = ["contrastive-gen", "--backend", "hf", "--expert", str(tiny_llama), "--max-tokens", "6", "--temperature", "0",
           "--batch-size", "2", "-i", str(data)]
    local = subprocess.run([sys.executable, "-m", "llmkit", *gen, "-o", str(tmp_path / "local.jsonl"),
                            "--report", str(tmp_path / "local.json")], capture_output=True, timeout=600, check=False)
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*gen, "--executor", "ray", "--replicas", "2", "--cpus-per-replica", "0.5",
                               "--stall-timeout", "300", "-o", str(tmp_path / "out"), "--report", str(tmp_path / "ray.json")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report = json.loads((tmp_path / "ray.json").read_text())
    validate(report)
    here = json.loads((tmp_path / "local.json").read_text())
    assert report["counts"] == here["counts"]
    assert line_counts(report) == parse_summary(done.stderr.decode())
    assert report["generation"]["generated_tokens"] == here["generation"]["generated_tokens"] > 0
    assert report["generation"]["requests"] == here["generation"]["requests"] == 6
    cluster = report["cluster"]
    assert cluster["executor"] == "ray" and len([n for n in cluster["nodes"] if n["alive"]]) == 2
    assert cluster["resources"]["CPU"] == 2 and cluster["replicas_asked"] == 2
    replicas = cluster["replicas"]
    assert 1 <= len(replicas) <= 2
    assert sum(r["in"] for r in replicas) == report["counts"]["in"]
    assert sum(r["generated_tokens"] for r in replicas) == report["generation"]["generated_tokens"]
    # hf generates in the replica's own thread: no engine waits apart from it, so no idle share at all
    assert "engine_busy_s" not in report["generation"] and not any("engine_busy_s" in r for r in replicas)
    assert report["options"]["--executor"] == "ray"
