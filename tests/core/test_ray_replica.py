"""The Ray executor's replica and driver-side pieces without a cluster: relative paths mean the
driver's files, an overlapping step gets its batches begun ahead and its halves one at a time,
the driver's close reaches every replica once, partial parts go under --resume."""

from __future__ import annotations

import dataclasses
import os
import pickle
import threading
import time
from pathlib import Path

import orjson
import pytest

from llmkit.contract import IOOptions
from llmkit.io import Done, LineBatch
from llmkit.step import Step
from tests.conftest import IN_CI

if not IN_CI:
    pytest.importorskip("pyarrow")

from llmkit.executors.ray_driver import LocalFile, _read_file, input_files  # noqa: E402
from llmkit.executors.ray_replica import ReplicaSettings, StepActor, _Turns  # noqa: E402
from llmkit.executors.storage import place_of, remove_temporaries  # noqa: E402


class SideFileStep(Step):
    """Opens a side file by the path it was given (relative, as on a command line)."""

    name = "side"

    def __init__(self, side: str) -> None:
        self.side = side
        self.suffix: str | None = None
        self.closed = 0

    def open(self) -> None:
        self.suffix = Path(self.side).read_text().strip()

    def process(self, records):
        return [{**r, "suffix": self.suffix} for r in records]

    def close(self) -> None:
        self.closed += 1


def settings(tmp_path: Path, driver: Path) -> ReplicaSettings:
    out = place_of(str(tmp_path / "out"), "-o")
    (tmp_path / "out").mkdir(exist_ok=True)
    return ReplicaSettings(IOOptions(inputs=["x"], output=str(tmp_path / "out")), None, Done(), "t", out, None, str(driver))


def test_relative_input_is_the_drivers_file_named_as_given(tmp_path, monkeypatch):
    driver, node = tmp_path / "driver", tmp_path / "node"
    driver.mkdir(), node.mkdir()
    (driver / "in.jsonl").write_bytes(b'{"id": 1}\n{"id": 2}\n')
    (node / "in.jsonl").write_bytes(b'{"id": 9}\n')  # the same name where a worker runs
    monkeypatch.chdir(driver)
    [found] = input_files(["in.jsonl"])
    assert found == LocalFile(str(driver / "in.jsonl"), "in.jsonl")
    monkeypatch.chdir(node)  # a worker reads it elsewhere
    [row] = list(_read_file({"index": 0, "file": pickle.dumps(found), "last": None}, size=10))
    batch = pickle.loads(row["payload"])
    assert (batch.source, batch.lines) == ("in.jsonl", [b'{"id": 1}\n', b'{"id": 2}\n'])


def test_replica_opens_relative_side_files_in_the_drivers_folder(tmp_path, monkeypatch):
    driver, node = tmp_path / "driver", tmp_path / "node"
    driver.mkdir(), node.mkdir()
    (driver / "side.txt").write_text("from-driver\n")
    monkeypatch.chdir(node)
    replica = StepActor(pickle.dumps(SideFileStep("side.txt")), settings(tmp_path, driver))
    assert replica.failed is None
    summary, error = replica._one("00000-000000000001", LineBatch("in.jsonl", 1, [b'{"id": 1}\n']))
    assert error is None and summary.written == 1
    [part] = (tmp_path / "out").glob("part-*.jsonl")
    assert orjson.loads(part.read_bytes()) == {"id": 1, "suffix": "from-driver"}
    replica.close()


def test_a_replica_closes_its_step_once(tmp_path, monkeypatch):
    """The driver's close reaches the step once, however often it is asked for."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "side.txt").write_text("s")
    replica = StepActor(pickle.dumps(SideFileStep("side.txt")), settings(tmp_path, tmp_path))
    step = replica.step
    replica.close()
    replica.close()
    assert step.closed == 1


def test_a_step_that_cannot_be_unpickled_fails_every_batch_naming_why(tmp_path, monkeypatch):
    """A replica on a node that lacks the step's plugin starts, and each batch reports the
    failure (the driver stops with it) instead of the replica being started again for ever."""
    monkeypatch.chdir(tmp_path)  # the replica enters the driver's folder: this test's cwd is restored after it
    replica = StepActor(b"not a pickle", settings(tmp_path, tmp_path))
    counts, error, _, _ = replica.process({"key": "00000-000000000001", "payload": pickle.dumps(LineBatch("in.jsonl", 1, [b'{"id": 1}\n']))})
    assert error is not None and "failed to open on a Ray worker" in str(error)
    assert counts.written == 0 and not list((tmp_path / "out").iterdir())


class ReadsEnvironmentWhenUnpickled(Step):
    """Notes a variable as it is unpickled, as a plugin reading its settings at import would."""

    name = "reads-environment"

    def __init__(self) -> None:
        self.seen: str | None = None

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, seen=os.environ.get("LLMKIT_TEST_SETTING"))


def test_a_replica_has_the_drivers_variables_before_its_step_is_unpickled(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMKIT_TEST_SETTING", "the node's")  # and removed after the test, whatever the replica set
    monkeypatch.chdir(tmp_path)  # the replica enters the driver's folder: this test's cwd is restored after it
    given = dataclasses.replace(settings(tmp_path, tmp_path), environment={"LLMKIT_TEST_SETTING": "from-driver"})
    replica = StepActor(pickle.dumps(ReadsEnvironmentWhenUnpickled()), given)
    assert replica.failed is None and replica.step.seen == "from-driver"


def test_the_variables_forwarded_to_replicas():
    from llmkit import BackendOptions, Chain
    from llmkit.executors.ray_environment import forwarded_environment
    from llmkit.generation import GenerationStep

    class Remote(GenerationStep):
        name = "remote"

    generating = Remote(BackendOptions(model="m", backend="openai", api_key_env="MY_SERVICE_KEY"))
    driver = {
        "LLMKIT_VLLM_ENGINE_ARGS": '{"max_num_seqs": 8}', "LLMKIT_PLUGINS": "rewrite-code",
        "VLLM_CPU_KVCACHE_SPACE": "1", "HF_TOKEN": "hf_x", "MY_SERVICE_KEY": "sk-1", "OPENAI_API_KEY": "sk-2",
        "VLLM_HOST_IP": "10.0.0.1", "PATH": "/driver/bin", "HOME": "/home/me", "CUDA_VISIBLE_DEVICES": "0",
    }  # fmt: skip
    expected = {name: driver[name] for name in
                ("HF_TOKEN", "LLMKIT_PLUGINS", "LLMKIT_VLLM_ENGINE_ARGS", "MY_SERVICE_KEY", "VLLM_CPU_KVCACHE_SPACE")}
    assert forwarded_environment(Chain([Step(), generating]), driver) == expected  # a chain's steps are looked into
    assert "MY_SERVICE_KEY" not in forwarded_environment(Step(), driver)
    assert forwarded_environment(Step(), {"PATH": "/bin"}) == {}


def test_a_replica_that_cannot_start_reports_why_naming_its_llmkit(tmp_path):
    """Settings from a driver with another llmkit (a field this node's class lacks, here) fail
    each batch with a message, never Ray's bare ActorDiedError."""
    older = settings(tmp_path, tmp_path)
    object.__delattr__(older, "environment")  # as unpickled from a driver whose settings had no such field
    replica = StepActor(pickle.dumps(SideFileStep("side.txt")), older)
    counts, error, _, _ = replica.process({"key": "00000-000000000001", "payload": pickle.dumps(LineBatch("in.jsonl", 1, [b'{"id": 1}\n']))})
    assert error is not None and "AttributeError" in str(error)
    assert "this node runs llmkit" in str(error) and "every node needs the driver's" in str(error)
    assert counts.written == 0


class Overlapping(Step):
    """An overlapping step that logs its calls and fails if two run at once."""

    name = "overlapping"
    overlaps = True

    def __init__(self) -> None:
        self.log: list[str] = []
        self.inside = 0

    def _enter(self, what: str) -> None:
        self.inside += 1
        assert self.inside == 1, "the step was called from two threads at once"
        self.log.append(what)
        time.sleep(0.01)
        self.inside -= 1

    def begin(self, records):
        self._enter(f"begin {records[0]['id']}")
        return records

    def complete(self, begun):
        self._enter(f"complete {begun[0]['id']}")
        return begun

    def process(self, records):
        return records


def test_two_calls_overlap_as_the_local_executor_does(tmp_path, monkeypatch):
    """Call 0 begins, call 1 begins before call 0 completes; completes in the order begun; the
    step's halves never run at once (Ray gives an overlapping step's replica two calls)."""
    monkeypatch.chdir(tmp_path)
    replica = StepActor(pickle.dumps(Overlapping()), settings(tmp_path, tmp_path))
    started = threading.Event()
    original = replica.turns.begin

    def begin_then_signal(start):
        result = original(start)
        started.set()
        return result

    replica.turns.begin = begin_then_signal  # type: ignore[method-assign]
    results: dict[int, tuple] = {}

    def call(n: int) -> None:
        results[n] = replica._one(f"00000-{n:012d}", LineBatch("in.jsonl", n, [orjson.dumps({"id": n}) + b"\n"]))

    first = threading.Thread(target=call, args=(0,))
    first.start()
    started.wait(30)
    second = threading.Thread(target=call, args=(1,))
    second.start()
    first.join(60)
    replica.input_over()  # the driver's word: call 1 waits for no call 2
    second.join(60)
    assert replica.step.log == ["begin 0", "begin 1", "complete 0", "complete 1"]
    assert all(error is None and summary.written == 1 for summary, error in results.values())
    assert len(list((tmp_path / "out").glob("part-*.jsonl"))) == 2
    replica.close()


def test_the_last_call_completes_when_the_input_is_over():
    """A replica's last batch waits for a next one until the driver says the input is over."""
    turns = _Turns()
    _, ticket = turns.begin(lambda: None)
    done = threading.Event()
    threading.Thread(target=lambda: (turns.complete(ticket, 60.0, lambda: None), done.set()), daemon=True).start()
    assert not done.wait(0.3)
    turns.end_of_input()
    assert done.wait(30)


def test_a_lone_call_completes_after_its_patience():
    """The last batch of a replica waits for a next one only ``wait`` seconds (a safety net)."""
    turns = _Turns()
    _, ticket = turns.begin(lambda: None)
    done = threading.Event()
    threading.Thread(target=lambda: (turns.complete(ticket, 0.05, lambda: None), done.set()), daemon=True).start()
    assert done.wait(30)


def test_resume_removes_partial_parts_only(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "part-00000-000000000001-t.jsonl").write_bytes(b'{"id": 1}\n')
    (folder / ".part-00000-000000000003-t.jsonl.77-abcdef01.tmp").write_bytes(b'{"id": 3')
    (folder / "notes.txt").write_text("kept")
    remove_temporaries(place_of(str(folder), "-o"))
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "part-00000-000000000001-t.jsonl"]


def test_a_node_without_the_drivers_folder_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "side.txt").write_text("s")
    replica = StepActor(pickle.dumps(SideFileStep("side.txt")), settings(tmp_path, tmp_path / "not-here"))
    assert replica.failed is None  # the step's own paths are still looked for here
    assert f"the driver's folder {tmp_path / 'not-here'} is not on this node" in capsys.readouterr().err
    replica.close()


def test_a_ray_started_for_the_run_runs_workers_at_our_priority(monkeypatch):
    """Ray's own default is niceness 15 for workers; a value the user set is kept."""
    import os

    from llmkit.executors.ray_driver import workers_at_our_priority

    monkeypatch.setenv("RAY_worker_niceness", "")  # recorded: the test leaves the environment as it was
    monkeypatch.delenv("RAY_worker_niceness")
    workers_at_our_priority()
    assert os.environ["RAY_worker_niceness"] == str(os.nice(0))
    monkeypatch.setenv("RAY_worker_niceness", "19")
    workers_at_our_priority()
    assert os.environ["RAY_worker_niceness"] == "19"
