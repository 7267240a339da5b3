"""What keeps an output from harming other files: which file a path names, and the run's lock.

Shared by the contract's writer (``-o``, ``--rejects``, :mod:`llmkit.io`) and the side outputs
(:mod:`llmkit.side_outputs`), so the two follow one set of rules:

- two paths name one file when their device and inode are equal (links, ``./name`` and shell
  redirections are seen through); a path that does not exist yet is named by its resolved path;
- only regular files and folders are protected: devices, FIFOs and terminals are shared by nature;
- a run holds every file it writes under an exclusive ``flock`` until it ends; a second run exits 75
  naming the process that holds it. A file this process already holds (a side output claimed
  first, then written by the core's writer) is not locked twice: ``flock`` would refuse the second
  open file of one process.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import Any

from llmkit.errors import TemporaryFailure, UsageError

FileKey = tuple[int, int]

#: (device, inode) of the files and folders this process holds locked, with how many holds each
_held: dict[FileKey, int] = {}


def regular_file(path: str | None, fd: int) -> FileKey | None:
    """(device, inode) of the regular file at ``path`` (links followed), or of ``fd`` for ``-``."""
    try:
        info = os.fstat(fd) if path is None or path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def output_key(path: str | None) -> Any:
    """What names an output for the same-file rule: its file, or where it will be created."""
    if path is None or path == "-":
        return regular_file(None, 1) or "stdout"
    if os.path.exists(path):
        return regular_file(path, 1)
    return os.path.realpath(path)


def lock(fd: int, path: str) -> None:
    """Hold ``fd``'s file under an exclusive flock, or raise TemporaryFailure (exit 75) naming the
    process that holds it. A file this process holds already passes; a file system without flock
    (some network mounts) runs unlocked."""
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) in _held:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = flock_holder(fd)
        who = f"process {holder}" if holder is not None else "another process"
        raise TemporaryFailure(
            f"{path} is being written by {who} (another llmkit run?); wait for it to end, or write elsewhere"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise UsageError(f"cannot lock {path}: {exc.strerror or exc}") from exc


def hold(fd: int, path: str) -> FileKey:
    """:func:`lock` ``fd``'s file and note it as held by this process until :func:`let_go`."""
    lock(fd, path)
    info = os.fstat(fd)
    key = (info.st_dev, info.st_ino)
    _held[key] = _held.get(key, 0) + 1
    return key


def let_go(key: FileKey) -> None:
    """Forget one hold of ``key`` (the lock itself ends when its file is closed)."""
    count = _held.get(key, 0) - 1
    if count > 0:
        _held[key] = count
    else:
        _held.pop(key, None)


def flock_holder(fd: int) -> int | None:
    """The id of the process holding a flock on ``fd``'s file, from /proc/locks (Linux)."""
    info = os.fstat(fd)
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks") as table:
            for line in table:
                fields = line.split()  # 1: FLOCK  ADVISORY  WRITE 1234 fe:00:5571638 0 EOF
                if "FLOCK" in fields and "->" not in fields and wanted in fields:
                    return int(fields[fields.index(wanted) - 1])
    except (OSError, ValueError):
        pass
    return None
