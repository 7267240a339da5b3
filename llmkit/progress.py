"""Progress on stderr: a rich live counter, only when stderr is a terminal."""

from __future__ import annotations

import os
import sys
from typing import Any


def stderr_is_terminal() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # replaced stderr (tests, notebooks)
        return False


class Progress:
    """A records counter with rate; a no-op when disabled or when stderr is not a terminal."""

    def __init__(self, enabled: bool = True, description: str = "records") -> None:
        self.enabled = enabled and stderr_is_terminal()
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:,} in · {task.fields[out]:,} out · {task.fields[rejected]:,} rejected"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=None, out=0, rejected=0)
        return self

    def update(self, summary: Any) -> None:
        if self._progress is not None:
            self._progress.update(
                self._task, completed=summary.read, out=summary.written, rejected=sum(summary.rejected.values())
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
