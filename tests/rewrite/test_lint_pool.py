"""The lint workers: a pool that never waits on a dead worker, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from llmkit_rewrite_code.lint import LintStep

pytestmark = pytest.mark.slow  # each test starts warm pylint workers (a few seconds)

GOOD = '"""A module."""\n\n\ndef add(a, b):\n    """Add two numbers."""\n    return a + b\n'


def _zombie_or_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}").exists()
    except OSError:
        return False


def _close_in_thread(step: LintStep) -> threading.Thread:
    """close() in a thread, so that a close that hangs fails the test instead of blocking it."""
    closer = threading.Thread(target=step.close, daemon=True)
    closer.start()
    closer.join(120)
    return closer


def test_close_after_the_workers_were_killed_reaps_them_and_removes_the_folder():
    """What Ray did to a replica: the workers SIGKILLed first (one of them, in a
    multiprocessing.Pool, holding the task queue's lock), then close(). It returns, no worker is
    left (not even a zombie) and the temporary folder is gone."""
    step = LintStep("text", threshold=0.0, workers=2)
    step.open()
    root = Path(step._root)
    [result] = step.process([{"text": GOOD}])
    assert isinstance(result, dict) and result["lint_raw_score"] == 10.0
    pids = [process.pid for process in step._pool.processes]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert not _close_in_thread(step).is_alive(), "close() hung on dead workers"
    assert not any(_zombie_or_alive(pid) for pid in pids)
    assert not root.exists()
    step.close()  # again: nothing to do


def test_a_dead_idle_worker_is_replaced_and_the_batch_is_scored():
    step = LintStep("text", threshold=0.0, workers=1)
    step.open()
    try:
        [dead] = step._pool.processes
        os.kill(dead.pid, signal.SIGKILL)
        dead.join()
        outcomes = step.process([{"text": GOOD}, {"text": "import os\nx=1\n"}])
        assert [o["lint_raw_score"] for o in outcomes] == [10.0, 5.0]
        [fresh] = step._pool.processes
        assert fresh.pid != dead.pid and fresh.is_alive()
        assert not _zombie_or_alive(dead.pid)
    finally:
        step.close()


def test_workers_leave_when_their_parent_is_killed(tmp_path):
    """A replica killed outright (SIGKILL: no close runs): its workers see their pipe end and
    leave; none is left waiting for work."""
    import subprocess
    import sys
    import time

    script = (
        "import sys\nfrom llmkit_rewrite_code.lint import LintStep\n"
        "step = LintStep('text', workers=2)\nstep.open()\n"
        "print(' '.join(str(p.pid) for p in step._pool.processes), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 60
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_running(pid) for pid in pids)
    finally:
        parent.kill()


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie of a killed parent is reaped by init, not by us)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
