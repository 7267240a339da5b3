"""The tokenizer check on hand-made vocabularies, and the vLLM plugin hook without vLLM."""

from __future__ import annotations

import sys

import pytest

from llmkit import UsageError
from llmkit_contrastive.vocab import check_same_vocab


class FakeTokenizer:
    def __init__(self, tokens: list[str]) -> None:
        self.vocab = {t: i for i, t in enumerate(tokens)}

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)


def test_same_vocabulary_passes_and_gives_its_size():
    assert check_same_vocab(FakeTokenizer(["<s>", "a", "b"]), FakeTokenizer(["<s>", "a", "b"])) == 3


def test_the_first_token_with_another_id_is_named():
    with pytest.raises(UsageError, match=r"token 'b' is id 2 in the expert's vocabulary and id 3 in the amateur's"):
        check_same_vocab(FakeTokenizer(["<s>", "a", "b", "c"]), FakeTokenizer(["<s>", "a", "c", "b"]))


def test_a_token_missing_on_either_side_is_named():
    with pytest.raises(UsageError, match=r"token '<\|im_end\|>' is id 3 in the expert's vocabulary and absent from the amateur's"):
        check_same_vocab(FakeTokenizer(["<s>", "a", "b", "<|im_end|>"]), FakeTokenizer(["<s>", "a", "b"]))
    with pytest.raises(UsageError, match=r"token 'z' is id 3 in the amateur's vocabulary and absent from the expert's"):
        check_same_vocab(FakeTokenizer(["<s>", "a", "b"]), FakeTokenizer(["<s>", "a", "b", "z"]))


class FakeRegistry:
    """vLLM's ModelRegistry as far as ``register`` uses it."""

    def __init__(self) -> None:
        self.models: dict[str, str] = {"LlamaForCausalLM": "vllm.model_executor.models.llama:LlamaForCausalLM"}
        self.calls: list[tuple[str, str]] = []

    def get_supported_archs(self):
        return self.models.keys()

    def register_model(self, name: str, where: str) -> None:
        self.calls.append((name, where))
        self.models[name] = where


def test_register_is_a_no_op_without_vllm(monkeypatch):
    from llmkit_contrastive.vllm_pair import register

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    monkeypatch.delitem(sys.modules, "llmkit_contrastive.pair_model", raising=False)
    assert register() is None
    assert sys.modules["vllm"] is None  # nothing imported vLLM behind the block
    assert "llmkit_contrastive.pair_model" not in sys.modules  # the network stays unloaded


def test_register_names_the_pair_once_and_lazily(monkeypatch):
    import types

    from llmkit_contrastive.vllm_pair import ARCHITECTURE, MODEL_CLASS, register

    registry = FakeRegistry()
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(ModelRegistry=registry))
    monkeypatch.delitem(sys.modules, "llmkit_contrastive.pair_model", raising=False)
    register()
    register()  # vLLM calls the hook in every process it starts, sometimes twice in one
    assert registry.calls == [(ARCHITECTURE, MODEL_CLASS)]
    assert MODEL_CLASS == "llmkit_contrastive.pair_model:ContrastivePairForCausalLM"  # a lazy string, not a class
    assert "llmkit_contrastive.pair_model" not in sys.modules
    assert registry.models["LlamaForCausalLM"].endswith(":LlamaForCausalLM")  # vLLM's own entries untouched
