"""The Ray executor's dispatch without a cluster (a stand-in for Ray's wait and get): every
batch reaches a replica, no replica ever holds more than its calls, a replica with room gets the
next batch as soon as one is read, and a cluster that finishes nothing stops the run."""

from __future__ import annotations

import queue
import time

import pytest

from llmkit.executors.ray_pool import dispatch


class Ref:
    def __init__(self, replica: FakeReplica, batch: int) -> None:
        self.replica, self.batch = replica, batch
        self.ready_at = time.monotonic() + replica.seconds


class FakeReplica:
    def __init__(self, name: str, seconds: float) -> None:
        self.name, self.seconds = name, seconds
        self.in_flight, self.most, self.got, self.told = 0, 0, [], 0
        self.process = self  # replica.process.remote(batch)
        self.input_over = Told(self)  # replica.input_over.remote()

    def remote(self, batch: int) -> Ref:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.got.append(batch)
        return Ref(self, batch)


class Told:
    def __init__(self, replica: FakeReplica) -> None:
        self.replica = replica

    def remote(self) -> None:
        self.replica.told += 1


class FakeRay:
    """ray.wait / ray.get over Refs that are ready once their replica's time has passed."""

    def wait(self, refs, num_returns, timeout):
        deadline = time.monotonic() + timeout
        while True:
            done = [ref for ref in refs if ref.ready_at <= time.monotonic()][:num_returns]
            if len(done) == num_returns or time.monotonic() >= deadline:
                return done, [ref for ref in refs if ref not in done]
            time.sleep(0.001)

    def get(self, ref):
        ref.replica.in_flight -= 1
        return (ref.replica.name, ref.batch)


class FakeFeed:
    """Batches 0..n-1, each readable ``gap`` seconds after the one before."""

    def __init__(self, count: int, gap: float = 0.0) -> None:
        self.batches: queue.Queue[int] = queue.Queue()
        self.count, self.gap, self.given, self.over = count, gap, 0, False
        self.start = time.monotonic()

    def next(self, timeout: float):
        if self.given == self.count:
            self.over = True
            return None
        due = self.start + self.given * self.gap
        wait = due - time.monotonic()
        if wait > timeout:
            time.sleep(timeout)
            return None
        time.sleep(max(0.0, wait))
        self.given += 1
        return self.given - 1


def _stalled(what: str) -> BaseException:
    return TimeoutError(what)


@pytest.mark.parametrize("calls", [1, 2, 3])
def test_every_batch_once_and_never_more_than_calls_per_replica(calls):
    replicas = [FakeReplica("a", 0.01), FakeReplica("b", 0.03)]
    taken = []
    dispatch(FakeRay(), replicas, calls, FakeFeed(40), 5.0, _stalled, taken.append)
    assert sorted(batch for _, batch in taken) == list(range(40))
    assert sorted(replicas[0].got + replicas[1].got) == list(range(40))
    assert all(replica.most <= calls for replica in replicas)
    assert all(replica.most == calls for replica in replicas)  # kept full while batches remain
    assert len(replicas[0].got) > len(replicas[1].got)  # the faster replica takes more
    assert [replica.told for replica in replicas] == [1, 1]  # the end of the input said once to each


def test_a_replica_with_room_gets_a_batch_as_soon_as_it_is_read():
    """Batches read slower than the replica works: each is handed over at once, not when a
    result next comes back (the replica's engine would wait for the driver)."""
    replica = FakeReplica("a", 5.0)  # its calls come back late
    feed = FakeFeed(2, gap=0.2)
    handed = []
    original = replica.remote

    def remote(batch):
        handed.append(time.monotonic() - feed.start)
        return original(batch)

    replica.process = type("P", (), {"remote": staticmethod(remote)})()
    with pytest.raises(TimeoutError):
        dispatch(FakeRay(), [replica], 2, feed, 1.0, _stalled, lambda result: None)
    assert len(handed) == 2 and handed[1] < 0.2 + 0.15


def test_nothing_finished_for_the_stall_timeout_stops_the_run():
    replicas = [FakeReplica("stuck", 60.0)]
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no batch finished"):
        dispatch(FakeRay(), replicas, 1, FakeFeed(3), 0.5, _stalled, lambda result: None)
    assert time.monotonic() - started < 5


def test_nothing_read_for_the_stall_timeout_stops_the_run():
    feed = FakeFeed(1, gap=0.0)
    feed.start += 60  # its first batch never comes in time
    with pytest.raises(TimeoutError, match="no batch was read"):
        dispatch(FakeRay(), [FakeReplica("a", 0.01)], 1, feed, 0.5, _stalled, lambda result: None)


class Closing:
    """A replica for close_replicas: its close takes ``seconds`` (None: never ends) or fails."""

    def __init__(self, seconds: float | None, fails: bool = False) -> None:
        self.seconds, self.fails, self.killed = seconds, fails, False
        self.close = self  # replica.close.remote()

    def remote(self) -> Ref:
        ref = Ref(FakeReplica("c", 3600.0 if self.seconds is None else self.seconds), 0)
        ref.fails = self.fails  # type: ignore[attr-defined]
        return ref


class ClosingRay(FakeRay):
    def get(self, ref):
        if getattr(ref, "fails", False):
            raise RuntimeError("the engine would not stop\nEngineDeadError: gone")
        return None

    def kill(self, replica, no_restart):
        assert no_restart
        replica.killed = True


def test_the_driver_waits_for_each_close_then_ends_every_replica(capsys):
    from llmkit.executors.ray_pool import close_replicas

    replicas = [Closing(0.05), Closing(None), Closing(0.01, fails=True)]
    started = time.monotonic()
    close_replicas(ClosingRay(), replicas, wait=0.5)
    assert 0.5 <= time.monotonic() - started < 5  # waited for the slow one, no longer than asked
    assert all(replica.killed for replica in replicas)
    err = capsys.readouterr().err
    assert "1 of 3 replicas did not close their step within 0.5 s" in err
    assert "a replica failed to close its step: EngineDeadError: gone" in err
