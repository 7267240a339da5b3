"""After a Ray run, nothing of the run is left on the cluster once the run returns: no replica
process, no lint worker (not even a zombie), no vLLM engine process, no temporary folder; a lint
folder a killed replica left behind is removed by the next lint run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmkit.testing import write_jsonl
from tests.ray.test_ray_executor import LINT, RAY, by_id, snippets

pytestmark = [pytest.mark.ray, pytest.mark.slow]

#: seconds Ray takes to reap a replica the driver ended (the run waited for its close already)
REAP = 20


def _described(pids: set[int]) -> list[str]:
    found = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append(f"{pid}: {command[:200]}")
        except OSError:
            continue
    return found


def _left(cluster, before: set[int], seconds: float = REAP) -> list[str]:
    """The processes of the cluster that were not there before the run, once Ray has reaped
    the replicas the driver ended."""
    deadline = time.monotonic() + seconds
    while True:
        extra = set(cluster.pids()) - before
        if not extra or time.monotonic() > deadline:
            return _described(extra)
        time.sleep(0.5)


def _engines(cluster) -> list[int]:
    """The cluster's vLLM engine processes (they name themselves so)."""
    found = []
    for pid in cluster.pids():
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"VLLM::"):
                found.append(pid)
        except OSError:
            continue
    return found


def test_lint_run_leaves_no_process_and_no_folder(ray_cluster, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", snippets(12))
    # a folder a replica killed outright left: its process (id 1's start time never matches) is gone
    stale = ray_cluster.tmp / "llmkit-lint-1-7-abcdef"
    (stale / "llmkit-lint-w1").mkdir(parents=True)
    folders_before = sorted(p for p in ray_cluster.tmp.glob("llmkit-lint-*") if p != stale)
    before = set(ray_cluster.pids())
    for run in range(2):
        done = ray_cluster.llmkit([*LINT, *RAY, "-i", str(data), "-o", str(tmp_path / f"out{run}")])
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert len(by_id(tmp_path / f"out{run}")) >= 1
        left = _left(ray_cluster, before)
        assert not left, "\n".join(["left behind:", *left])
        assert sorted(ray_cluster.tmp.glob("llmkit-lint-*")) == folders_before
    assert not stale.exists()


@pytest.mark.vllm
def test_vllm_run_leaves_no_engine(ray_cluster, tmp_path, tiny_llama):
    """The driver closed each replica's step before it returned: its engine is gone then, with
    no wait (Ray only reaps the replica's own process after)."""
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "instruction": f"Say {n}."} for n in range(8)])
    engines_before = _engines(ray_cluster)
    before = set(ray_cluster.pids())
    env = {**ray_cluster.env, "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = ray_cluster.llmkit(["contrastive-gen", "--backend", "vllm", "--expert", str(tiny_llama), "--max-tokens", "4",
                               "--temperature", "0", "-i", str(data), "-o", str(tmp_path / "out"),
                               "--executor", "ray", "--replicas", "1", "--cpus-per-replica", "1", "--stall-timeout", "300"],
                              env=env)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert len(by_id(tmp_path / "out")) == 8
    assert sorted(set(_engines(ray_cluster)) - set(engines_before)) == []
    left = _left(ray_cluster, before)
    assert not left, "\n".join(["left behind:", *left])
