"""The vllm backend asks for batches of several times the sequences its engine runs at once, read
from the real engine's scheduler (so that the engine never runs dry between batches)."""

from __future__ import annotations

import pytest

from llmkit.backends.vllm import BATCH_PER_ENGINE_SLOT, engine_slots

pytestmark = pytest.mark.vllm


def test_batch_size_follows_the_engines_max_num_seqs(vllm_backend, monkeypatch):
    scheduler = vllm_backend._llm.llm_engine.vllm_config.scheduler_config
    monkeypatch.setattr(scheduler, "max_num_seqs", 100)
    assert engine_slots(vllm_backend._llm) == 100
    assert vllm_backend.preferred_batch_size(32) == BATCH_PER_ENGINE_SLOT * 100
    monkeypatch.setattr(scheduler, "max_num_seqs", 5)
    assert vllm_backend.preferred_batch_size(32) == 32  # the step's default when it is more
    assert vllm_backend.preferred_batch_size(1000) == 1000


def test_the_engine_args_are_what_vllm_LLM_was_given(vllm_backend):
    """The run report's model.engine_args: the engine's own (the model path aside), none of the
    other backends' (a server's, a device)."""
    args = vllm_backend.engine_args
    assert args["enforce_eager"] is True and args["block_size"] == 32  # the test's, through the constructor
    assert args["dtype"] == vllm_backend.options.dtype and "tensor_parallel_size" in args and "model" not in args
    assert not {"base_url", "concurrency", "device", "max_tokens"} & args.keys()


def test_an_engine_that_does_not_say_gets_vllms_usual_default():
    assert engine_slots(object()) == 256


PROMPTS = [f"Tell me about item {i}." for i in range(12)] + ["x" * 5000]  # the last one is too long


def test_submitted_batches_are_collected_whole_while_the_next_is_in_the_engine(vllm_backend):
    """Two batches in the engine at once (the local executor's overlap), and a score call between:
    each batch's results are its own, equal to a generate call on it alone."""
    from llmkit.backends import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=6)
    first, second = PROMPTS[:7], PROMPTS[7:]
    clock = vllm_backend._pending.clock
    alone = [vllm_backend.generate(first, params), vllm_backend.generate(second, params)]
    tickets = [vllm_backend.submit(first, params), vllm_backend.submit(second, params)]
    scores = vllm_backend.score(["a few words"])  # run while both batches wait to be collected
    got = [vllm_backend.collect(ticket) for ticket in tickets]
    assert scores[0].logprobs and len(got[0]) == 7 and len(got[1]) == 6
    assert got[1][-1].error == "too_long"
    for batch_alone, batch_got in zip(alone, got):
        assert [r.completions[0].token_ids if r.completions else r.error for r in batch_got] == [
            r.completions[0].token_ids if r.completions else r.error for r in batch_alone
        ]
    assert not vllm_backend._pending.finished  # nothing left behind
    assert clock.unanswered == 0  # the engine's clock saw every request it was given answered


def test_sampled_requests_keep_their_own_seeds_across_submitted_batches(vllm_backend):
    from llmkit.backends import SamplingParams

    params = SamplingParams(temperature=1.0, max_tokens=6, n=3, seed=5)
    alone = vllm_backend.generate(PROMPTS[:2], params)
    tickets = [vllm_backend.submit(PROMPTS[2:4], params), vllm_backend.submit(PROMPTS[:2], params)]
    got = [vllm_backend.collect(ticket) for ticket in tickets][1]
    assert [[c.token_ids for c in r.completions] for r in got] == [[c.token_ids for c in r.completions] for r in alone]


def test_a_vllm_without_enqueue_generates_each_batch_when_it_is_collected():
    """``_Requests`` over an engine with only ``generate`` (vLLM before ``LLM.enqueue``): nothing
    runs on submit; each collected batch is one generate call on its own requests."""
    from types import SimpleNamespace

    from llmkit.backends._vllm_requests import PendingRequests

    class OldLLM:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def generate(self, prompts, sampling, use_tqdm=False):
            self.calls.append(list(prompts))
            return [SimpleNamespace(text=f"out {p}") for p in prompts]

    llm = OldLLM()
    requests = PendingRequests(llm)
    assert not requests.queued
    first, second = requests.add(["a", "b"], [None, None]), requests.add(["c"], [None])
    assert llm.calls == [] and requests.add([], []) == []
    assert [o.text for o in requests.wait(second)] == ["out c"]
    assert [o.text for o in requests.wait(first)] == ["out a", "out b"]
    assert llm.calls == [["c"], ["a", "b"]]
