"""How long an engine of the run was busy, and how long it waited for the run's next request.

An engine in another process (vLLM's) works on every request added to it; it waits only when it
holds none of the run's requests and the next one is not yet added: the time llmkit spends
between batches (writing one, reading and rendering the next). :class:`EngineClock` counts that
from the backend's side, with a clock read when requests are added to an empty engine and when
a wait for answers returns, and notes it into the run's report: busy seconds while the engine
holds requests, idle seconds from the moment it held none to the next request added. The span is
the first request added to the last answer seen: the wait before the first request (the engine
starting, the first batch being read) and after the last answer (the run ending) is not counted.

Answers are seen when llmkit waits for them. An engine that finishes a batch while llmkit is
still busy elsewhere, with a later batch already added, is counted busy until its answers are
seen: what is counted idle is a lower bound when batches overlap, and exact when they do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: where the seconds go: ``note(busy, idle)``; the run's report by default
Note = Callable[[float, float], None]


def _note_into_report(busy: float, idle: float) -> None:
    from llmkit import report

    report.note_engine_time(busy, idle)


class EngineClock:
    """Busy and idle seconds of one engine, counted as requests are added and answered."""

    def __init__(self, note: Note = _note_into_report, clock: Callable[[], float] = time.perf_counter) -> None:
        self._note = note
        self._clock = clock
        self.unanswered = 0  # requests added whose answers were not seen yet
        self._busy_since: float | None = None  # busy time from here on is not noted yet
        self._idle_since: float | None = None  # the engine held nothing from here (None: before the first add)

    def added(self, count: int) -> None:
        """``count`` requests go into the engine now."""
        if count <= 0:
            return
        if self.unanswered == 0:  # the engine waited for these, since its last answer
            now = self._clock()
            if self._idle_since is not None:
                self._note(0.0, now - self._idle_since)
                self._idle_since = None
            self._busy_since = now
        self.unanswered += count

    def answered(self, count: int) -> None:
        """A wait returned with ``count`` more requests answered (0: those it waited for were in)."""
        if self._busy_since is None:
            return
        now = self._clock()
        # busy time is noted at every wait, so that a report read mid-run (a Ray replica sends
        # its counts with each batch) has it up to the last batch collected
        self._note(now - self._busy_since, 0.0)
        self.unanswered = max(0, self.unanswered - count)
        if self.unanswered:
            self._busy_since = now
        else:
            self._busy_since, self._idle_since = None, now
