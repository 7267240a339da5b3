"""After a Ray run with the lint stage, nothing of the run is left on the cluster: no replica
process, no lint worker (not even a zombie), no temporary folder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.ray.test_ray_executor import LINT, RAY, by_id, snippets, write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _described(pids: set[int]) -> list[str]:
    found = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append(f"{pid}: {command[:200]}")
        except OSError:
            continue
    return found


def _settled(cluster, before: set[int], seconds: float = 90) -> set[int]:
    """The processes of the cluster that were not there before the run, once Ray has let the
    run's workers go (it does so shortly after the driver leaves)."""
    deadline = time.monotonic() + seconds
    while True:
        extra = set(cluster.pids()) - before
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.5)


#: Ray Data's own actors, one per cluster, made by the first Ray Data run and kept for the next
RAY_DATA_SINGLETONS = ("ray::_StatsActor", "ray::ActorLocationTracker", "ray::_AutoscalingCoordinatorActor")


def test_lint_run_leaves_no_process_and_no_folder(ray_cluster, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", snippets(12))
    folders_before = sorted(ray_cluster.tmp.glob("llmkit-lint-*"))
    before = set(ray_cluster.pids())
    for run in range(2):
        done = ray_cluster.llmkit([*LINT, *RAY, "-i", str(data), "-o", str(tmp_path / f"out{run}")])
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert len(by_id(tmp_path / f"out{run}")) >= 1
        left = _described(_settled(ray_cluster, before))
        if run == 0:  # the first Ray Data run of the cluster may start Ray Data's singletons
            assert all(line.split(": ", 1)[1].startswith(RAY_DATA_SINGLETONS) for line in left), "\n".join(left)
            before = set(ray_cluster.pids())
        else:
            assert not left, "\n".join(["left behind:", *left])
        assert sorted(ray_cluster.tmp.glob("llmkit-lint-*")) == folders_before
