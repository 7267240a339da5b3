"""Commands started early and checked later: a slow start-up (a vLLM engine, half a minute or more
on two cores, most of it one core's imports) then overlaps other work of the test run instead of
adding to it."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


class Background:
    """One command, started at once with ``input`` on its stdin; :meth:`result` waits for it.

    Its output goes to files, not pipes, so a chatty child (vLLM logs) never blocks on a full pipe
    while nobody reads it."""

    def __init__(self, command: Sequence[str], *, input: bytes = b"", env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 900) -> None:
        self.command = list(command)
        self.deadline = time.monotonic() + timeout
        self._stdout, self._stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        with tempfile.TemporaryFile() as stdin:
            stdin.write(input)
            stdin.seek(0)
            self.process = subprocess.Popen(self.command, stdin=stdin, stdout=self._stdout, stderr=self._stderr,
                                            env=dict(env) if env is not None else None, cwd=cwd)

    def result(self) -> subprocess.CompletedProcess[bytes]:
        """The finished run, as ``subprocess.run`` gives it; killed when it outlives its timeout."""
        try:
            self.process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        return subprocess.CompletedProcess(self.command, self.process.returncode, self._read(self._stdout),
                                           self._read(self._stderr))

    def stop(self) -> None:
        """Kill the command if it still runs (a test that failed before it asked for the result)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @staticmethod
    def _read(file) -> bytes:
        file.seek(0)
        return file.read()


def will_run(request: pytest.FixtureRequest, test_name: str) -> bool:
    """Whether this session runs the test ``test_name`` of the requesting fixture's module (after
    selection by name, ``-k`` and ``-m``): a run started early for a test that will not run is waste."""
    return any(getattr(item, "module", None) is request.module and getattr(item, "originalname", None) == test_name
               for item in request.session.items)
