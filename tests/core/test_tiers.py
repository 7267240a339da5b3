"""The test tiers: plain `pytest` leaves out what is slow, and every engine or cluster test is slow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PLANTED = '''
import pytest

@pytest.fixture
def vllm_server():
    return "engine"

@pytest.fixture
def served(vllm_server):  # an engine reached through another fixture
    return vllm_server

def test_plain(): pass

@pytest.mark.slow
def test_marked_slow(): pass

@pytest.mark.vllm
def test_needs_vllm(): pass

@pytest.mark.ray
def test_needs_ray(): pass

def test_server(served): pass
'''


def collected(folder: Path, *args: str, target: str | None = None) -> list[str]:
    """Test names that pytest, configured by this repository's pyproject, would run in ``folder``
    (or of ``target``, a node id)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(folder), "-p", "tests.conftest", *args, target or str(folder)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return sorted(line.split("::")[-1] for line in done.stdout.splitlines() if "::" in line)


def test_plain_pytest_runs_the_fast_tier_and_every_tier_on_request(tmp_path):
    (tmp_path / "test_planted.py").write_text(PLANTED)
    assert collected(tmp_path) == ["test_plain"]
    everything = ["test_marked_slow", "test_needs_ray", "test_needs_vllm", "test_plain", "test_server"]
    assert collected(tmp_path, "-m", "slow or not slow") == everything


def test_a_slow_test_named_by_its_node_id_runs(tmp_path):
    (tmp_path / "test_planted.py").write_text(PLANTED)
    assert collected(tmp_path, target=f"{tmp_path}/test_planted.py::test_needs_vllm") == ["test_needs_vllm"]
    assert collected(tmp_path, "-m", "not vllm", target=f"{tmp_path}/test_planted.py::test_needs_vllm") == []


def test_ci_runs_every_tier():
    script = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pytest -q -m "slow or not slow"' in script
