"""The UTF-8 paper's own generation protocols, for ``utf8-eval generate --compat official``.

What its code does, where llmkit's documented rules differ (README, ``utf8-eval``):

- context-free: the prompt is the k byte tokens alone, no BOS, after a space byte token when the
  tokenizer puts a space before a text's first word (SentencePiece's dummy prefix);
- context-guided: k = 1..L, no BOS before the context, exactly ``--steps`` (5) generated tokens
  whatever is left; for k < L the prompt is the context's tokens, the space byte token (where the
  tokenizer puts a space before a text, as above) and the term's first k bytes; at k = L it is the
  whole sentence (context + term) tokenized as text, and the run counts as no match;
- both, on the scored bytes: the paper's ``V_binary_soft`` and ``V_partial`` per step besides
  llmkit's own scores (:mod:`llmkit_utf8.paper_scores`);
- both: a SentencePiece piece's first ``▁`` alone is read as a space, its others written as
  U+2581's three bytes (``▁▁`` is `` ▁``, ``a▁b`` stays ``a▁b``), where SentencePiece decodes every
  ``▁`` to a space (:func:`llmkit_utf8.bytemap.piece_bytes`);
- both: the decoded output writes a special token's literal text as bytes (``</s>`` as four ASCII
  bytes), and a sequence that ends early is padded to its length with the pad token (EOS when the
  tokenizer has none), also written as text; the scored bytes are every prompt token's bytes
  (context, space) followed by the generated ones.

The BOS choice stays an option either way (``--bos/--no-bos``); :func:`adds_bos` is its default
outside ``--compat official``.
"""

from __future__ import annotations

from typing import Any

from llmkit_utf8.bytemap import ByteMap


def adds_bos(tokenizer: Any, bos_id: int | None) -> bool:
    """Whether the tokenizer was trained to start a text with BOS: it adds one when encoding
    (Llama, Mistral: yes; GPT-2, Qwen: no). Without a tokenizer, whether the model has a BOS."""
    if bos_id is None:
        return False
    if tokenizer is None:
        return True
    ids = list(tokenizer("a")["input_ids"])
    return bool(ids) and ids[0] == bos_id


def space_prefix(tokenizer: Any, bmap: ByteMap) -> bool:
    """Whether the tokenizer writes a space before a text's first word ("a" -> "▁a")."""
    if tokenizer is None:
        return False
    ids = list(tokenizer.encode("a", add_special_tokens=False))
    return bmap.to_bytes(ids).startswith(b" ")


def literal(tokenizer: Any, token_id: int) -> bytes:
    """A special token's literal text (``</s>``) as UTF-8 bytes, as a plain decode writes it."""
    if tokenizer is None:
        return b""
    text = tokenizer.convert_ids_to_tokens(int(token_id))
    return text.encode("utf-8") if isinstance(text, str) else b""


def pad_id(tokenizer: Any, eos_ids: frozenset[int]) -> int | None:
    """The id generate pads finished sequences with: the pad token, else EOS."""
    pad = getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None
    return pad if isinstance(pad, int) else min(eos_ids, default=None)


def pieces(ids: list[int], budget: int, bmap: ByteMap, tokenizer: Any, finished_by_eos: bool) -> list[bytes]:
    """The bytes of each of ``budget`` generated positions as the official decode writes them:
    special tokens as their text, and after an early end the EOS (where the backend left it out)
    then pad tokens up to the budget."""
    ids = list(ids[:budget])
    if len(ids) < budget and finished_by_eos and (not ids or ids[-1] not in bmap.eos_ids) and bmap.eos_ids:
        ids.append(min(bmap.eos_ids))
    pad = pad_id(tokenizer, bmap.eos_ids)
    if pad is not None:
        ids += [pad] * (budget - len(ids))

    def one(i: int) -> bytes:
        known = bmap.id_bytes[i] if 0 <= i < len(bmap.id_bytes) else None
        return known if known is not None else literal(tokenizer, i)

    out = [one(i) for i in ids]
    return out + [b""] * (budget - len(out))
