"""Lockstep contrastive decoding with transformers: two models, one token stream.

Both models read the same left-padded batch, each keeps its own KV cache, and at every step the
next token of each sequence is drawn from the contrastive scores of the two last-position logits
and fed to both. A sequence ends on its own at EOS, at a stop string or at its length limit;
finished rows leave the batch (and both caches), so a long tail costs only its own rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmkit import Completion, SamplingParams

from llmkit_contrastive.contrast import Contrast
from llmkit_contrastive.formulas import next_tokens


@dataclass
class _Sequence:
    """One row being decoded."""

    prompt_len: int
    token_ids: list[int] = field(default_factory=list)
    text: str | None = None
    finish_reason: str | None = None


class LockstepDecoder:
    """Contrastive generation from an expert and an amateur that share one tokenizer."""

    def __init__(
        self,
        expert: Any,
        amateur: Any,
        tokenizer: Any,
        contrast: Contrast,
        *,
        vocab_size: int,
        max_model_len: int,
        eos_ids: set[int],
    ) -> None:
        self.expert, self.amateur, self.tokenizer = expert, amateur, tokenizer
        self.contrast = contrast
        self.vocab_size = vocab_size
        self.max_model_len = max_model_len
        self.eos_ids = eos_ids
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids, default=0)

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        """``params.n`` completions per prompt (prompts must fit: len + 1 <= max_model_len).

        Greedy (temperature 0) decodes each prompt once and gives its completion ``n`` times, as
        every backend does."""
        import torch

        runs = 1 if params.temperature == 0 else params.n
        rows = [ids for ids in prompts for _ in range(runs)]
        if not rows:
            return []
        generator = None
        if params.seed is not None:
            generator = torch.Generator(device=self.expert.device).manual_seed(params.seed)
        with torch.inference_mode():
            sequences = self._decode(rows, params, generator)
        return [
            [_completion(sequences[i * runs + j % runs]) for j in range(params.n)] for i in range(len(prompts))
        ]

    def _decode(self, rows: list[list[int]], params: SamplingParams, generator: Any) -> list[_Sequence]:
        import torch

        device = self.expert.device
        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long, device=device)
        mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        for i, ids in enumerate(rows):
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[i, width - len(ids) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        sequences = [_Sequence(len(ids)) for ids in rows]
        live = list(range(len(rows)))  # row i of the batch is sequences[live[i]]
        caches: list[Any] = [None, None]
        step_ids, step_positions = input_ids, positions
        while live:
            logits = []
            for k, model in enumerate((self.expert, self.amateur)):
                out = model(
                    input_ids=step_ids, attention_mask=mask, position_ids=step_positions,
                    past_key_values=caches[k], use_cache=True, logits_to_keep=1,
                )
                caches[k] = out.past_key_values
                logits.append(out.logits[:, -1, : self.vocab_size])
            tokens = next_tokens(
                logits[0], logits[1], self.contrast,
                temperature=params.temperature, top_p=params.top_p, top_k=params.top_k, generator=generator,
            )
            keep = [i for i, token in enumerate(tokens.tolist()) if not self._advance(sequences[live[i]], token, params)]
            if len(keep) < len(live):
                index = torch.tensor(keep, dtype=torch.long, device=device)
                for cache in caches:
                    cache.batch_select_indices(index)
                tokens, mask, step_positions = tokens[index], mask[index], step_positions[index]
                live = [live[i] for i in keep]
            mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
            step_ids = tokens[:, None]
            step_positions = step_positions[:, -1:] + 1
        return sequences

    def _advance(self, seq: _Sequence, token: int, params: SamplingParams) -> bool:
        """Append ``token``; True when the sequence is finished."""
        seq.token_ids.append(token)
        if token in self.eos_ids:
            seq.finish_reason = "stop"
            seq.text = self.tokenizer.decode(seq.token_ids[:-1], skip_special_tokens=True)
            return True
        if params.stop:
            text = text_before_stop(self.tokenizer, seq.token_ids, params.stop)
            if text is not None:
                # like vLLM: the text ends before the stop string, the ids keep the token that made it
                seq.finish_reason, seq.text = "stop", text
                return True
        if len(seq.token_ids) >= params.max_tokens or seq.prompt_len + len(seq.token_ids) >= self.max_model_len:
            seq.finish_reason = "length"
            seq.text = self.tokenizer.decode(seq.token_ids, skip_special_tokens=True)
            return True
        return False


#: characters decoded beyond the longest stop string: the first characters of a tail's text may
#: differ from the whole text's (a UTF-8 sequence cut by the window start, a dropped leading space)
TAIL_MARGIN = 8


def text_before_stop(tokenizer: Any, ids: list[int], stops: Sequence[str]) -> str | None:
    """The text of ``ids`` up to its first stop string, or None when it holds none.

    Called after each new token of a sequence whose text held no stop string one token earlier,
    so a new hit ends in the last characters of the text: only a tail of the ids is decoded, the
    fewest tokens (doubling from the longest stop's length in characters plus TAIL_MARGIN) whose
    text is that long. Each step then costs the stop strings' length, not the response's. When the
    tail holds a stop string, the whole text is decoded once and cut where a full decode cuts it.
    """
    stops = [s for s in stops if s]
    if not stops:
        return None
    need = max(len(s) for s in stops) + TAIL_MARGIN
    width = need
    while True:
        start = max(0, len(ids) - width)
        text = _text_from(tokenizer, ids, start)
        if len(text) >= need or start == 0:
            break
        width *= 2
    if not any(s in text for s in stops):
        return None
    if start > 0:
        text = tokenizer.decode(ids, skip_special_tokens=True)
    hits = [text.find(s) for s in stops if s in text]
    return text[: min(hits)] if hits else None  # none: a tail artefact at the window's start


def _text_from(tokenizer: Any, ids: list[int], start: int) -> str:
    """The text of ``ids[start:]``, the start moved back (3 tokens at most) off the middle of a
    UTF-8 character: decoders turn a cut character into U+FFFD, and byte-fallback decoders
    (SentencePiece ``<0xE3>`` tokens) the whole run of byte tokens around it."""
    text = tokenizer.decode(ids[start:], skip_special_tokens=True)
    for earlier in range(start - 1, max(-1, start - 4), -1):
        if not text.startswith("\ufffd"):
            break
        text = tokenizer.decode(ids[earlier:], skip_special_tokens=True)
    return text


def _completion(seq: _Sequence) -> Completion:
    return Completion(seq.text or "", list(seq.token_ids), seq.finish_reason or "length")


def context_length(configs: list[Any], tokenizer: Any, override: int | None) -> int:
    """The context both models can take: ``--max-model-len`` or the smaller of their position limits."""
    if override is not None:
        return override
    limits = [getattr(c, "max_position_embeddings", None) for c in configs]
    known = [int(x) for x in limits if x]
    if known:
        return min(known)
    return int(getattr(tokenizer, "model_max_length", 2048) or 2048)
