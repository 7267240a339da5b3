"""utf8-eval next-byte holds its model through the core's LocalModel: --model and --max-model-len as everywhere."""

from __future__ import annotations

import pickle

import pytest
from llmkit_utf8.nextbyte import NextByteStep

from llmkit import BackendOptions, UsageError
from llmkit.testing import run_records


def test_without_model_the_step_is_refused_when_built():
    with pytest.raises(UsageError, match="^--model is required$"):
        NextByteStep(BackendOptions())


def test_the_step_pickles_unloaded_and_max_model_len_bounds_the_prompt(tiny_byte):
    step = NextByteStep(BackendOptions(model=str(tiny_byte), device="cpu", max_model_len=4))
    step = pickle.loads(pickle.dumps(step))  # as Ray ships it: the model is loaded where it runs
    assert not step.local.loaded
    result = run_records(step, [{"char": "あ"}, {"char": "é"}])
    # BOS + 3 byte tokens fit a context of 4; the 2-byte "é" (BOS + 2) too; "ああ" would not
    assert [len(r["utf8_next_byte"]["positions"]) for r in result.outputs] == [2, 1]
    short = run_records(NextByteStep(BackendOptions(model=str(tiny_byte), device="cpu", max_model_len=3)), [{"char": "あ"}])
    assert short.reasons == ["too_long"]
