"""The engine watcher (llmkit.backends._reaper): processes an engine started die with the
process that opened it, however it ends; others are left alone. No engine here: a parent starts
a child that starts a grandchild, as vLLM's EngineCore starts its Worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("psutil")

PARENT = r"""
import subprocess, sys, time
from llmkit.backends._reaper import engine_processes
adopt = sys.argv[1] == "adopt"
tree = [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"]
if adopt:
    with engine_processes():
        engine = subprocess.Popen(tree)
else:
    engine = subprocess.Popen(tree)
bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # not an engine's
time.sleep(1.5)  # the watcher notes the grandchild
print(engine.pid, bystander.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _tree_after_sigkill(how: str, wait: float) -> tuple[list[int], int]:
    import psutil

    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        engine, bystander = (int(x) for x in parent.stdout.readline().split())
        grandchildren = [p.pid for p in psutil.Process(engine).children()]
        assert len(grandchildren) == 1
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (_alive(engine) or _alive(grandchildren[0])):
            time.sleep(0.1)
        return [engine, *grandchildren], bystander
    finally:
        parent.kill()


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_an_engines_processes_die_with_a_killed_parent_and_others_stay():
    engine_tree, bystander = _tree_after_sigkill("adopt", wait=10)
    try:
        assert not any(_alive(pid) for pid in engine_tree)
        assert _alive(bystander)  # started outside the block: not the watcher's
    finally:
        _kill([*engine_tree, bystander])


def test_without_the_watcher_they_outlive_the_parent():
    """The control: what the watcher prevents does happen without it."""
    engine_tree, bystander = _tree_after_sigkill("plain", wait=2)  # the watcher acts within one tick (0.5 s)
    try:
        assert all(_alive(pid) for pid in engine_tree)
    finally:
        _kill([*engine_tree, bystander])
