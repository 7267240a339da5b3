"""What the backend tests share: prompts and texts, checks that hold on every local backend, a
model that ships its own code."""

from __future__ import annotations

import json
import shutil

from llmkit.backends import Backend, SamplingParams, TokenIds

PROMPTS = [
    "The cat sat on the mat.",
    "def add(a, b):\n    return",
    "Once upon a time",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
    "Ünïcödé and emoji 🙂 text",
]

TEXTS = [
    "The cat sat on the mat.",
    "x",
    "A longer sentence about the weather in the mountains, which changes quickly in spring. " * 4,
    "Ünïcödé, 日本語 and emoji 🙂.",
    "",
]


def check_stop_string(backend: Backend) -> None:
    """A stop string cut where vLLM cuts: text ends before it, the token completing it is the last."""
    greedy = SamplingParams(temperature=0, max_tokens=24)
    full = backend.generate(["Once upon a time"], greedy)[0].completions[0]
    # two characters from inside the completion (not a stand-in for undecodable bytes)
    windows = [full.text[i : i + 2] for i in range(3, len(full.text) - 1)]
    stop = next(w for w in windows if "\ufffd" not in w and w.strip())
    cut = backend.generate(["Once upon a time"], SamplingParams(temperature=0, max_tokens=24, stop=(stop,)))
    completion = cut[0].completions[0]
    assert completion.text == full.text[: full.text.find(stop)]
    assert completion.finish_reason == "stop"
    kept = completion.token_ids
    assert kept == full.token_ids[: len(kept)]
    decode = backend.tokenizer.decode
    assert stop in decode(kept, skip_special_tokens=True)
    assert stop not in decode(kept[:-1], skip_special_tokens=True)


def check_context_budget(backend: Backend) -> None:
    """A prompt that fits with room for 3 tokens gets at most 3, whatever max_tokens says; one
    that leaves no room is a too_long reject; an empty one is empty_prompt; the rest of the batch runs."""
    limit = backend.max_model_len
    assert limit is not None
    filler = backend.tokenizer.encode("the cat sat", add_special_tokens=False)[0]
    near_end = TokenIds([filler] * (limit - 3))
    no_room = TokenIds([filler] * limit)
    results = backend.generate(
        ["hello", near_end, no_room, TokenIds([]), "world"], SamplingParams(temperature=0, max_tokens=10)
    )
    assert [r.error for r in results] == [None, None, "too_long", "empty_prompt", None]
    capped = results[1].completions[0]
    assert len(capped.token_ids) <= 3
    if len(capped.token_ids) == 3:
        assert capped.finish_reason == "length"
    assert "tokens" in (results[2].detail or "") and str(limit) in (results[2].detail or "")
    assert results[2].completions == []
    assert all(len(r.completions) == 1 for r in (results[0], results[4]))


def model_with_own_code(tiny_llama, tmp_path, model_type="custom-llama"):
    """A copy of the tiny model whose config and model classes live in its folder; importing its
    code leaves a marker file, so a test can see whether the code ran. With ``model_type="llama"``
    transformers and vLLM also know a stock class for it, which they would load in silence."""
    model = tmp_path / "custom"
    shutil.copytree(tiny_llama, model)
    marker = tmp_path / "remote-code-ran"
    (model / "configuration_custom.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from transformers import LlamaConfig\n"
        "class CustomConfig(LlamaConfig):\n    model_type = 'custom-llama'\n"
    )
    (model / "modeling_custom.py").write_text(
        "from transformers import LlamaForCausalLM\n"
        "from .configuration_custom import CustomConfig\n"
        "class CustomModel(LlamaForCausalLM):\n    config_class = CustomConfig\n"
    )
    config = json.loads((model / "config.json").read_text())
    config.update(
        model_type=model_type,
        auto_map={"AutoConfig": "configuration_custom.CustomConfig", "AutoModelForCausalLM": "modeling_custom.CustomModel"},
    )
    (model / "config.json").write_text(json.dumps(config))
    return model, marker
