"""How a Ray run's batches reach its replicas: Ray tasks read the inputs, plain Ray actors the
driver starts hold the step, the driver hands each batch to a replica with room and, at the end,
closes every replica's step itself.

- **Readers.** One Ray task per input file (no CPU of its own), a streaming generator that yields
  the file's contract batches as it reads them, at most :data:`READ_AHEAD` per replica ahead of
  the replicas. A batch waits in the object store of the node that read it and goes from there
  to the replica that takes it, never through the driver. The next file's reader starts while
  the current one is taken, so a file's end leaves no replica waiting.
- **Replicas.** ``--replicas`` actors (:class:`~llmkit.executors.ray_replica.StepActor`), each
  reserving ``--cpus-per-replica`` and ``--gpus-per-replica``. Each has ``calls`` batches in
  flight (three for a step that overlaps: two in its engine while the third is completed and
  written), and gets the next batch the moment a result comes back, so its engine never waits
  on the driver.
- **Failures.** A replica whose process dies is started again by Ray, and its batches in flight
  are sent again (``max_restarts`` and ``max_task_retries`` -1): each writes its own part again.
  No finished batch for ``--stall-timeout`` seconds (replicas that cannot be placed, a batch that
  never ends) stops the run, exit 69.
- **The end.** The driver calls each replica's ``close`` and waits for it (the step's engine, its
  workers and their folders gone), then ends the replicas; a replica that did not close in
  :data:`~llmkit.executors.ray_replica.CLOSE_WAIT` seconds is named on standard error. A run that
  fails or is interrupted ends its replicas at once (their engines then end with them, see
  :mod:`llmkit.backends._reaper`).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from llmkit.contract import ClusterOptions
from llmkit.errors import LlmkitError
from llmkit.executors.ray_replica import CLOSE_WAIT, StepActor

#: batches read ahead of the replicas, per replica
READ_AHEAD = 4
#: a result the driver waits for while a replica has room and the next batch may be read
_POLL = 0.05


def start_replicas(ray: Any, step_blob: Any, settings: Any, cluster: ClusterOptions, calls: int) -> list[Any]:
    """The replicas, each opening the step as it starts (Ray starts them when it can place them).

    ``step_blob`` and ``settings`` are object refs (``ray.put``) of the pickled step and the
    :class:`ReplicaSettings`: each node's object store holds one copy however many replicas it
    runs (under --resume the settings carry every done id). The caller holds them until the
    replicas are ended: a replica that restarts is given them again, and Ray deletes an object
    once no one refers to it."""
    replica = ray.remote(StepActor).options(
        num_cpus=cluster.cpus_per_replica, num_gpus=cluster.gpus_per_replica,
        # a thread more than its batches: the driver's word that the input is over always gets in
        max_restarts=-1, max_task_retries=-1, max_concurrency=calls + 1,
    )
    return [replica.remote(step_blob, settings) for _ in range(cluster.replicas)]


def await_replicas(ray: Any, replicas: list[Any], timeout: float, stalled: Callable[[str], BaseException]) -> None:
    """Every replica started (its step opened, or its failure kept for its first batch)."""
    started = [replica.ready.remote() for replica in replicas]
    done, _ = ray.wait(started, num_returns=len(started), timeout=timeout)
    if len(done) < len(started):
        raise stalled(f"{len(started) - len(done)} of {len(started)} replicas did not start")


class Feed:
    """The input's batches in order, from the readers (a thread of the driver takes them from
    the readers' streams so that the driver's loop never blocks on a read)."""

    def __init__(self, ray: Any, reader: Callable[..., Any], items: list[dict[str, Any]], size: int, depth: int) -> None:
        self.batches: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self.read = ray.remote(num_cpus=0, num_returns="streaming", _generator_backpressure_num_objects=depth)(reader)
        self.ray, self.items, self.size, self.over = ray, items, size, False
        self.stop = threading.Event()
        self.started: list[Any] = []
        threading.Thread(target=self._pump, name="llmkit-ray-feed", daemon=True).start()

    def _pump(self) -> None:
        try:
            streams = self._streams()
            for stream in streams:
                for batch in stream:
                    if not self._put(("batch", batch)):
                        return
            self._put(("end", None))
        except BaseException as exc:  # handed to the driver's loop, which raises it
            self._put(("error", exc))

    def _streams(self) -> Iterator[Any]:
        """Each file's stream, the next one started before the current one is taken."""
        started = self.started
        started.extend(self.read.remote(item, self.size) for item in self.items[:2])
        for index in range(len(self.items)):
            if index + 2 < len(self.items):
                started.append(self.read.remote(self.items[index + 2], self.size))
            yield started[index]

    def close(self) -> None:
        """Stop taking batches, and stop the readers still reading (a run that failed)."""
        self.stop.set()
        for stream in self.started:
            try:
                self.ray.cancel(stream)
            except Exception:  # noqa: BLE001 - finished already
                pass

    def _put(self, entry: tuple[str, Any]) -> bool:
        while not self.stop.is_set():
            try:
                self.batches.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def next(self, timeout: float) -> Any:
        """The next batch (a reference to it), None when none came within ``timeout`` seconds;
        sets ``over`` when the input is over; raises a reader's error."""
        try:
            kind, value = self.batches.get(timeout=timeout) if timeout else self.batches.get_nowait()
        except queue.Empty:
            return None
        if kind == "end":
            self.over = True
            return None
        if kind == "error":
            raise value
        return value


def dispatch(
    ray: Any, replicas: list[Any], calls: int, feed: Feed, stall_timeout: float,
    stalled: Callable[[str], BaseException], take: Callable[[Any], None],
) -> None:
    """Hand every batch of ``feed`` to a replica with room (at most ``calls`` each) and pass each
    replica's result to ``take`` as it comes back."""
    busy = dict.fromkeys(range(len(replicas)), 0)
    pending: dict[Any, int] = {}
    last = time.monotonic()
    told = False
    while True:
        if feed.over and not told:  # a replica's last batch need not wait for a next one
            told = True
            for replica in replicas:
                replica.input_over.remote()
        while not feed.over:
            index = min(busy, key=busy.__getitem__)
            if busy[index] >= calls:
                break
            batch = feed.next(timeout=0 if pending else min(stall_timeout, 1.0))
            if batch is None:
                break
            pending[replicas[index].process.remote(batch)] = index
            busy[index] += 1
        if not pending:
            if feed.over:
                return
            if time.monotonic() - last > stall_timeout:
                raise stalled("no batch was read")
            continue
        room = not feed.over and min(busy.values()) < calls
        done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL if room else 1.0)
        for ref in done:
            busy[pending.pop(ref)] -= 1
            take(ray.get(ref))
            last = time.monotonic()
        if not done and time.monotonic() - last > stall_timeout:
            raise stalled("no batch finished")


def close_replicas(ray: Any, replicas: list[Any], wait: float = CLOSE_WAIT) -> None:
    """Close each replica's step and wait for it (up to ``wait`` seconds in all), then end the
    replicas. A replica that did not close in time, or failed to, is named on standard error:
    the output is complete all the same."""
    closing = [replica.close.remote() for replica in replicas]
    done, late = ray.wait(closing, num_returns=len(closing), timeout=wait)
    for ref in done:
        try:
            ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - its batches are written: the run stands
            _warn(f"a replica failed to close its step: {_reason(exc)}")
    if late:
        _warn(f"{len(late)} of {len(closing)} replicas did not close their step within {wait:g} s: they are "
              "ended unclosed (their engines end with them; a lint worker leaves when its pipe ends)")
    end_replicas(ray, replicas)


def end_replicas(ray: Any, replicas: list[Any]) -> None:
    """End the replicas' processes now (not started again)."""
    for replica in replicas:
        try:
            ray.kill(replica, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _warn(message: str) -> None:
    print(f"llmkit: warning: {message}", file=sys.stderr)


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return str(cause if isinstance(cause, LlmkitError) else exc).strip().splitlines()[-1]

