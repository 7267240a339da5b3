"""The engine's busy and idle seconds in a run's report: counted by the vllm backend's requests on
a scripted engine and a scripted clock (a planted gap between batches is counted to the second,
overlapping batches count none), added up per Ray replica and by ``report merge`` (the idle share
recomputed from the seconds, never averaged), printed by ``report show``; left out, not 0, where
no engine was timed."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from llmkit import report
from llmkit.backends import _vllm_requests
from llmkit.backends._engine_clock import EngineClock
from llmkit.backends._vllm_requests import PendingRequests
from llmkit.report.merge import merge_reports
from llmkit.report.ray import ClusterTally, take_usage
from llmkit.summary import Summary
from tests.core.test_report import validate


class Clock:
    """Seconds that pass only when the test (or the scripted engine) says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedEngine:
    """``LLM.enqueue`` and ``llm_engine.step``: each step takes one second and answers the
    oldest request."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.queue: list[str] = []
        self.counter = 0
        self.llm_engine = self

    def enqueue(self, prompts, sampling, use_tqdm=False):
        ids = [f"{self.counter + i}-engine" for i in range(len(prompts))]
        self.counter += len(prompts)
        self.queue += [i.partition("-")[0] for i in ids]
        return ids

    def has_unfinished_requests(self) -> bool:
        return bool(self.queue)

    def step(self):
        self.clock.now += 1.0
        return [SimpleNamespace(request_id=self.queue.pop(0), finished=True)]


@pytest.fixture
def timed(monkeypatch):
    """Requests on a scripted engine, and the (busy, idle) seconds they note."""
    monkeypatch.setattr(_vllm_requests, "engine_call", lambda call: call())  # no vLLM to translate errors of
    clock, noted = Clock(), []
    requests = PendingRequests(ScriptedEngine(clock), EngineClock(lambda busy, idle: noted.append((busy, idle)), clock))
    return requests, clock, noted


def totals(noted):
    return sum(b for b, _ in noted), sum(i for _, i in noted)


def test_a_planted_gap_between_batches_is_counted_idle(timed):
    requests, clock, noted = timed
    clock.now += 30.0  # before the first request (the engine starting): not the run's idle time
    first = requests.add(["a", "b"], [None, None])
    assert len(requests.wait(first)) == 2  # two steps: 2 s busy
    clock.now += 5.0  # the batch written, the next one read: the engine holds nothing
    second = requests.add(["c", "d", "e"], [None] * 3)
    requests.wait(second)  # 3 s busy
    clock.now += 40.0  # after the last answer (the run ending): not counted
    assert totals(noted) == (5.0, 5.0)


def test_overlapping_batches_count_no_gap(timed):
    requests, clock, noted = timed
    first = requests.add(["a", "b"], [None, None])
    second = requests.add(["c"], [None])  # the next batch is in the engine before the first is collected
    requests.wait(first)
    clock.now += 5.0  # the first batch written while the engine holds the second
    third = requests.add(["d"], [None])
    requests.wait(second)
    requests.wait(third)
    assert totals(noted) == (9.0, 0.0)  # 4 steps and the 5 s of writing: all busy


def test_answers_collected_early_close_the_gap_when_seen(timed):
    """A wait that also answers a later batch: the engine is empty after it, and the later
    batch's wait (its answers already in) finds nothing left to time."""
    requests, clock, noted = timed
    first, second = requests.add(["a"], [None]), requests.add(["b"], [None])
    requests.wait(second)  # steps through "a" then "b"
    requests.wait(first)
    clock.now += 2.0
    requests.wait(requests.add(["c"], [None]))
    assert totals(noted) == (3.0, 2.0)


def test_a_vllm_without_enqueue_is_busy_only_inside_generate(monkeypatch):
    monkeypatch.setattr(_vllm_requests, "engine_call", lambda call: call())
    clock, noted = Clock(), []

    class OldLLM:
        def generate(self, prompts, sampling, use_tqdm=False):
            clock.now += 2.0
            return list(prompts)

    requests = PendingRequests(OldLLM(), EngineClock(lambda busy, idle: noted.append((busy, idle)), clock))
    first, second = requests.add(["a"], [None]), requests.add(["b"], [None])
    clock.now += 7.0  # added, but such a vLLM starts only when the batch is collected
    requests.wait(first)
    clock.now += 1.0
    requests.wait(second)
    assert totals(noted) == (4.0, 1.0)


@pytest.fixture
def recorder():
    """Notes taken in this process, as a Ray replica takes them; none left for the next test."""
    taken = report.record_here()
    yield taken
    report.finish(taken, 0, None)


def test_the_report_has_the_engine_seconds_and_the_share(recorder):
    clock = Clock()
    engine = EngineClock(clock=clock)  # noting into the run's report, as the backend's does
    engine.added(4)
    clock.now += 3.0
    engine.answered(4)
    clock.now += 1.0
    engine.added(1)
    clock.now += 4.0
    engine.answered(1)
    generation = recorder.generation.as_dict()
    assert (generation["engine_busy_s"], generation["engine_idle_s"], generation["engine_idle_share"]) == (7.0, 1.0, 0.125)


def test_a_backend_that_times_no_engine_leaves_the_fields_out(recorder):
    report.note_results([SimpleNamespace(error=None, prompt_token_ids=[1, 2], completions=[])])
    assert "engine_busy_s" not in recorder.generation.as_dict()
    assert "engine_idle_share" not in recorder.generation.as_dict()


def test_ray_replicas_each_have_their_share_and_the_run_the_share_of_the_sums(recorder):
    """Two replicas, each sending its engine's seconds with its batches: each shows its own
    share, the run's is that of the added seconds (an average of shares would say 25%)."""
    tally = ClusterTally()
    sent = {"r1": [(2.0, 0.0), (6.0, 0.0)], "r2": [(1.0, 1.0)]}  # r1: 0% idle of 8 s; r2: 50% of 2 s
    for replica, batches in sent.items():
        for busy, idle in batches:
            noted = report.Generation(requests=1)  # what the replica's engine noted in its process,
            noted.add_engine_time(busy, idle)  # as take_usage hands it over with a batch's row
            tally.add({"replica": replica, "node": "n", "ip": "10.0.0.1"}, noted.as_dict(rounded=False), Summary())
    tally.note(SimpleNamespace(nodes=lambda: [], cluster_resources=lambda: {}), replicas_asked=2)
    replicas = {r["replica"]: r for r in recorder.cluster["replicas"]}
    assert (replicas["r1"]["engine_busy_s"], replicas["r1"]["engine_idle_s"], replicas["r1"]["engine_idle_share"]) == (8.0, 0.0, 0.0)
    assert replicas["r2"]["engine_idle_share"] == 0.5 and replicas["r2"]["batches"] == 1
    generation = recorder.generation.as_dict()
    assert (generation["engine_busy_s"], generation["engine_idle_s"], generation["engine_idle_share"]) == (9.0, 1.0, 0.1)


def engine_report(tmp_path, name, busy, idle):
    """A run's report, as a vllm run writes it, with the engine's seconds."""
    recorder = report.start(["demo"], {})
    report.begin_command("demo", {"--model": None}, str(tmp_path / name))
    report.note_engine_time(busy, idle)
    report.note_results([SimpleNamespace(error=None, prompt_token_ids=[1], completions=[])])
    assert report.finish(recorder, 0, None) == 0
    written = json.loads((tmp_path / name).read_text())
    validate(written)
    return written


def test_merge_adds_seconds_and_recomputes_the_share(tmp_path):
    a, b = engine_report(tmp_path, "a.json", 9.0, 1.0), engine_report(tmp_path, "b.json", 1.0, 1.0)
    assert (a["generation"]["engine_idle_share"], b["generation"]["engine_idle_share"]) == (0.1, 0.5)
    merged = merge_reports([("a.json", a), ("b.json", b)])
    validate(merged)
    generation = merged["generation"]
    assert (generation["engine_busy_s"], generation["engine_idle_s"]) == (10.0, 2.0)
    assert generation["engine_idle_share"] == round(2.0 / 12.0, 4)  # not (0.1 + 0.5) / 2


def test_merge_of_runs_without_an_engine_timed_has_no_engine_fields(tmp_path):
    recorder = report.start(["demo"], {})
    report.begin_command("demo", {"--model": None}, str(tmp_path / "hf.json"))
    report.note_results([SimpleNamespace(error=None, prompt_token_ids=[1], completions=[])])
    report.finish(recorder, 0, None)
    untimed = json.loads((tmp_path / "hf.json").read_text())
    merged = merge_reports([("hf.json", untimed), ("hf2.json", untimed)])
    assert "engine_busy_s" not in merged["generation"] and merged["generation"]["requests"] == 2


def test_show_prints_the_idle_share_and_each_replica(tmp_path, capsys):
    from llmkit.cli import run

    written = engine_report(tmp_path, "run.json", 3.0, 1.0)
    written["cluster"] = {"executor": "ray", "nodes": [], "replicas": [
        {"replica": "a1b2c3d4e5f6a7b8", "node": "n1", "ip": "10.0.0.7", "batches": 3, "in": 30, "out": 29, "rejected": 1,
         "generated_tokens": 300, "requests": 30, "engine_busy_s": 3.0, "engine_idle_s": 1.0, "engine_idle_share": 0.25}]}
    validate(written)
    (tmp_path / "run.json").write_text(json.dumps(written))
    capsys.readouterr()
    assert run(["report", "show", str(tmp_path / "run.json")], plugins=[]) == 0
    text = capsys.readouterr().out
    assert "engine_idle_share" in text and "25.0%" in text
    assert "Replicas" in text and "10.0.0.7" in text and "a1b2c3d4" in text


def test_a_replica_hands_over_its_engine_seconds_once(recorder):
    report.note_engine_time(2.00004, 0.0)
    report.note_engine_time(0.0, 1.0)
    usage = take_usage()
    assert (usage["engine_busy_s"], usage["engine_idle_s"]) == (2.00004, 1.0)  # unrounded: the driver adds them up
    assert take_usage() is None  # handed over: the next batch's row starts from nothing


def test_a_plugins_own_engine_is_timed_call_to_call(monkeypatch):
    """``vllm_generate`` over a plugin's own ``vllm.LLM`` (contrastive-gen's pair): busy inside each
    generate call, idle between them, one clock per engine."""
    monkeypatch.setattr(_vllm_requests, "engine_call", lambda call: call())
    clock, noted = Clock(), []

    class OwnLLM:
        def generate(self, prompts, sampling, use_tqdm=False):
            clock.now += 3.0
            return list(prompts)

    monkeypatch.setattr(_vllm_requests, "EngineClock", lambda: EngineClock(lambda b, i: noted.append((b, i)), clock))
    llm = OwnLLM()
    assert _vllm_requests.timed_generate(llm, ["a", "b"], None) == ["a", "b"]
    clock.now += 2.0
    _vllm_requests.timed_generate(llm, ["c"], None)
    _vllm_requests.timed_generate(OwnLLM(), ["d"], None)  # another engine: its own clock, no gap of the first's
    assert totals(noted) == (9.0, 2.0)
