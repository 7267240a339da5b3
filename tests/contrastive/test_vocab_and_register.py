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


def test_register_is_a_no_op_without_vllm(monkeypatch):
    from llmkit_contrastive.vllm_pair import register

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    register()
