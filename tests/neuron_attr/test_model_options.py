"""neuron-attr's model options are the core's model option set plus its own --chat and --seed."""

from __future__ import annotations

import dataclasses

import pytest
from llmkit_neuron_attr.lm import open_model
from llmkit_neuron_attr.options import ModelOptions

import llmkit


def test_the_set_is_the_cores_plus_chat_and_seed():
    core = [f.name for f in dataclasses.fields(llmkit.ModelOptions)]
    assert [f.name for f in dataclasses.fields(ModelOptions)] == [*core, "chat", "seed"]
    with pytest.raises(llmkit.UsageError, match="unknown --dtype"):
        ModelOptions(model="m", dtype="int3")  # refused when the options are built, before any model


def test_the_model_opens_through_the_cores_loader(tiny_llama):
    with pytest.raises(llmkit.UsageError, match="^--model is required$"):
        open_model(ModelOptions().backend())
    studied = open_model(ModelOptions(model=str(tiny_llama), device="cpu", max_model_len=11).backend())
    assert studied.max_len == 11 and studied.name == str(tiny_llama) and studied.layers > 0
