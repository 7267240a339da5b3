"""The tokenizer check run before any work: contrasting two models token by token only makes
sense when both read and write the same ids."""

from __future__ import annotations

from typing import Any

from llmkit import UsageError


def check_same_vocab(expert_tokenizer: Any, amateur_tokenizer: Any) -> int:
    """Raise UsageError naming the first token whose id differs; return the vocabulary size.

    The comparison covers every token of both vocabularies (added tokens included), in id
    order. Embedding matrices padded to different sizes do not matter: scores cover only the
    tokenizer's vocabulary.
    """
    expert = expert_tokenizer.get_vocab()
    amateur = amateur_tokenizer.get_vocab()
    for token, token_id in sorted(expert.items(), key=lambda item: item[1]):
        other = amateur.get(token)
        if other != token_id:
            where = "absent from" if other is None else f"id {other} in"
            raise UsageError(
                f"the expert and amateur tokenizers differ: token {token!r} is id {token_id} in the "
                f"expert's vocabulary and {where} the amateur's; contrastive decoding needs one vocabulary"
            )
    for token, token_id in sorted(amateur.items(), key=lambda item: item[1]):
        if token not in expert:
            raise UsageError(
                f"the expert and amateur tokenizers differ: token {token!r} is id {token_id} in the "
                "amateur's vocabulary and absent from the expert's; contrastive decoding needs one vocabulary"
            )
    return len(expert_tokenizer)
