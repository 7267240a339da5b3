"""What an engine's processes printed while it started, to name the cause when it fails.

vLLM starts its engine in child processes; when one of them fails, the exception the parent
sees says only "Engine core initialization failed. See root cause above": the cause is in the
child's traceback, on the stderr both share. While an engine starts, stderr (file descriptor 2,
which the children inherit) goes through a pipe that a thread copies to the real stderr,
keeping the last lines, so the error can quote the child's own exception line. The copying goes
on for the life of the process: the children keep writing into the pipe after the start.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import select
import struct
import sys
import termios
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

#: the last line of a Python traceback: ``SomeError: message`` (dotted names too)
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Exit)\b(?::\s*(?P<message>.*))?$")
_KEPT_LINES = 400


class StderrTail:
    """The last lines written to stderr while :func:`tail_stderr` was active."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=_KEPT_LINES)
        self._partial = b""
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            *complete, self._partial = (self._partial + data).split(b"\n")
            self.lines.extend(line.decode("utf-8", "replace").rstrip("\r") for line in complete)

    def cause(self, exclude: str = "") -> str | None:
        """The last exception line printed (a child's traceback ends with it), else None.
        ``exclude`` is the parent's own message, which vLLM may print too."""
        with self._lock:
            lines = list(self.lines)
        for line in reversed(lines):
            text = line.strip()
            # vLLM prefixes its log lines ("(EngineCore pid=1) ERROR ...  ValueError: ..."): drop it
            text = re.sub(r"^\(\w+(?: pid=\d+)?\)\s*", "", text)
            match = _EXCEPTION_LINE.match(text)
            if match and match.group("message") and not (exclude and match.group("message") in exclude):
                return text
        return None


@contextmanager
def tail_stderr() -> Iterator[StderrTail]:
    """Route file descriptor 2 through a copying pipe while the block runs (see the module)."""
    tail = StderrTail()
    try:
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep
        yield tail
        return
    os.dup2(write_end, 2)
    os.close(write_end)
    # held from a read to its write (what was read is not out yet); closed: the copier has ended
    copying = _Copying()
    threading.Thread(target=_copy, args=(read_end, real, tail, copying), name="llmkit-stderr-tail", daemon=True).start()
    # the copier is a daemon thread: at exit, what is still in the pipe would be lost
    atexit.register(_drain, read_end, copying)
    try:
        yield tail
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # this process writes to the real stderr again; children keep the pipe
        _drain(read_end, copying)


class _Copying:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended = False


def _copy(read_end: int, real: int, tail: StderrTail, copying: _Copying) -> None:
    """Copy the pipe to the real stderr until every writer has closed it."""
    while True:
        ready, _, _ = select.select([read_end], [], [])
        with copying.lock:
            data = os.read(read_end, 65536) if ready else b""
            if not data:
                copying.ended = True  # before the close: the descriptor's number may be reused
                break
            tail.feed(data)
            try:
                os.write(real, data)
            except OSError:
                pass
    os.close(read_end)
    os.close(real)


def _drain(read_end: int, copying: _Copying, patience: float = 1.0) -> None:
    """Wait (at most ``patience`` seconds) until what was written into the pipe so far is copied out."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if copying.ended:
            return
        try:
            pending = struct.unpack("i", fcntl.ioctl(read_end, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:  # closed: every writer has gone and the copier has finished
            return
        if not pending:
            with copying.lock:  # a read in flight reaches the real stderr first
                return
        time.sleep(0.005)
