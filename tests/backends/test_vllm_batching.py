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


def test_an_engine_that_does_not_say_gets_vllms_usual_default():
    assert engine_slots(object()) == 256
