"""The lint stage's temporary folders: one per opened stage, named for the process that made it
(its id and start time), so that a later stage can remove those whose process died before it
could (SIGKILL, the out-of-memory killer, a Ray replica ended by force) instead of leaving them in
the temporary folder for ever. A folder whose process still runs is never touched, nor one of
another user's, nor one named otherwise."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "llmkit-lint-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-(\d+)-")


def make_folder() -> str:
    """A new folder for this process's lint workers, removing first the folders of dead ones."""
    sweep()
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-{start_time(os.getpid()) or 0}-")


def sweep(where: str | None = None) -> list[Path]:
    """Remove the lint folders in ``where`` (the temporary folder) whose process is gone."""
    removed = []
    for folder in Path(where or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        found = _NAME.match(folder.name)
        if found is None or _alive(int(found[1]), int(found[2])):
            continue
        try:
            if folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux), None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name, in parentheses, may hold spaces: the fields after it are plain
    return int(stat.rpartition(")")[2].split()[19])


def _alive(pid: int, started: int) -> bool:
    """Whether the folder's process still runs: the same id, started at the same time (an id
    the system gave to another process since does not count)."""
    if started == 0:  # written where start times cannot be read: the id alone tells
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return start_time(pid) == started
