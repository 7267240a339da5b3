"""Next-token validity mass: for each prefix that ends inside a multi-byte character, how much
probability the model puts on tokens that keep the bytes well-formed.

The backend interface gives sampled tokens or the log-prob of a given text, not the whole
next-token distribution, so this module holds the model in this process (the core's
:class:`~llmkit.backends.LocalModel`: transformers, float32 on the CPU by default). One
teacher-forced forward pass per record gives the distribution after every prefix.
"""

from __future__ import annotations

from typing import Any

import llmkit
import llmkit.backends
from llmkit import Reject

from llmkit_utf8.bytemap import ByteMap, build_bytemap
from llmkit_utf8.validate import incomplete_tail, is_valid_prefix, second_byte_range, sequence_length


def tail_state(tail: bytes) -> tuple[int, int, int]:
    """What a well-formed continuation of an unfinished character must start with:
    (lowest next byte, highest next byte, continuation bytes still needed)."""
    lead = tail[0]
    need = sequence_length(lead) - len(tail)
    low, high = second_byte_range(lead) if len(tail) == 1 else (0x80, 0xBF)
    return low, high, need


def positions_inside(data: bytes) -> list[tuple[int, int, int]]:
    """(prefix length p, bytes k of the current character present, its byte length) for every
    prefix data[:p] that ends inside a multi-byte character of the (valid) text."""
    found: list[tuple[int, int, int]] = []
    offset = 0
    for char in data.decode("utf-8"):
        length = len(char.encode("utf-8"))
        found.extend((offset + k, k, length) for k in range(1, length))
        offset += length
    return found


class ValidityMasks:
    """For each tail state, which token ids keep the byte sequence a valid UTF-8 prefix.

    Special tokens (no bytes: EOS, padding, unknown) never count: they end or derail the text
    inside a character."""

    def __init__(self, bytemap: ByteMap, vocab_size: int, device: Any) -> None:
        self.bytemap, self.vocab_size, self.device = bytemap, vocab_size, device
        self._cache: dict[tuple[int, int, int], Any] = {}
        self._index = {b: i for i, b in enumerate(bytemap.id_bytes) if b}

    def mask(self, tail: bytes) -> Any:
        import torch

        state = tail_state(tail)
        if state not in self._cache:
            ok = torch.zeros(self.vocab_size, dtype=torch.bool)
            for index, piece in enumerate(self.bytemap.id_bytes[: self.vocab_size]):
                if piece and is_valid_prefix(tail + piece):
                    ok[index] = True
            self._cache[state] = ok.to(self.device)
        return self._cache[state]

    def matching(self, rest: bytes) -> list[int]:
        """Token ids whose bytes are a non-empty prefix of ``rest`` (they write the text as it is)."""
        found = []
        for end in range(1, min(len(rest), 64) + 1):
            index = self._index.get(rest[:end])
            if index is not None and index < self.vocab_size:
                found.append(index)
        return found


def check_backend(name: str | None) -> None:
    """next-byte loads the model with transformers itself; a --backend that names another
    engine or a server would be silently ignored, and the run would measure something else."""
    if name not in (None, "hf"):
        raise llmkit.UsageError(
            f"utf8-eval next-byte reads the model's full next-token distributions locally, with transformers "
            f"(hf only); --backend {name} cannot give them: drop --backend or give --backend hf"
        )


class NextByteStep(llmkit.Step):
    name = "utf8-next-byte"
    batch_size = 16

    def __init__(self, options: llmkit.BackendOptions, field: str = "char", context_field: str | None = None, top: int = 5) -> None:
        check_backend(options.backend)
        self.field, self.context_field, self.top = field, context_field, top
        self.local = llmkit.backends.LocalModel(options)
        self.bytemap: ByteMap | None = None
        self.masks: ValidityMasks | None = None

    def open(self) -> None:
        llmkit.require("transformers", "hf", "next-byte distributions")
        self.bytemap = build_bytemap(self.local.tokenizer)  # a tokenizer without byte tokens: before the model loads
        vocab_size = self.local.model.get_output_embeddings().weight.shape[0]
        self.masks = ValidityMasks(self.bytemap, vocab_size, self.local.device)

    def close(self) -> None:
        self.local.close()

    def _prompt(self, record: dict[str, Any]) -> tuple[list[int], bytes] | Reject:
        assert self.bytemap is not None
        text = llmkit.existing_field(record, "utf8_next_byte", earlier=dict) or llmkit.get_text_field(record, self.field)
        if isinstance(text, Reject):
            return text
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return Reject("not_encodable", f"field {self.field!r} holds a lone surrogate")
        head = [] if self.bytemap.bos_id is None else [self.bytemap.bos_id]
        if self.context_field:
            context = llmkit.get_text_field(record, self.context_field)
            if isinstance(context, Reject):
                return context
            head += list(self.local.tokenizer.encode(context, add_special_tokens=False))
        return head + self.bytemap.encode_bytes(data), data

    def process(self, records: list[dict[str, Any]]) -> list[llmkit.Outcome]:
        import torch

        prompts = [self._prompt(r) for r in records]
        live = [i for i, p in enumerate(prompts) if not isinstance(p, Reject)]
        limit = self.local.context_length
        outcomes: list[llmkit.Outcome] = [p if isinstance(p, Reject) else None for p in prompts]
        for i in list(live):
            if limit is not None and len(prompts[i][0]) > limit:  # type: ignore[index]
                outcomes[i] = Reject("too_long", f"{len(prompts[i][0])} tokens > context {limit}")  # type: ignore[index]
                live.remove(i)
        if not live:
            return outcomes
        ids = [prompts[i][0] for i in live]  # type: ignore[index]
        width = max(len(x) for x in ids)
        model, device = self.local.model, self.local.device
        batch = torch.zeros((len(ids), width), dtype=torch.long)
        attention = torch.zeros((len(ids), width), dtype=torch.long)
        for row, x in enumerate(ids):  # right padding: a causal model never looks at it
            batch[row, : len(x)] = torch.tensor(x)
            attention[row, : len(x)] = 1
        with torch.no_grad():
            logits = model(input_ids=batch.to(device), attention_mask=attention.to(device)).logits
        probs = torch.softmax(logits.float(), dim=-1)
        for row, i in enumerate(live):
            tokens, data = prompts[i]  # type: ignore[misc]
            offset = len(tokens) - len(data)
            outcomes[i] = {**records[i], "utf8_next_byte": self._positions(probs[row], offset, data)}
        return outcomes

    def _positions(self, probs: Any, offset: int, data: bytes) -> dict[str, Any]:
        assert self.masks is not None and self.bytemap is not None
        found: list[dict[str, Any]] = []
        for p, k, length in positions_inside(data):
            dist = probs[offset + p - 1]  # the distribution after data[:p]
            tail = incomplete_tail(data[:p])
            valid_mass = float(dist[self.masks.mask(tail)].sum())
            match = self.masks.matching(data[p:])
            top = dist.topk(min(self.top, dist.shape[0])) if self.top else None
            found.append(
                {
                    "offset": p,
                    "k": k,
                    "char_bytes": length,
                    "valid_mass": round(valid_mass, 6),
                    "match_mass": round(float(dist[match].sum()) if match else 0.0, 6),
                    "top": [] if top is None else [
                        self._describe(t, v) for v, t in zip(top.values.tolist(), top.indices.tolist())
                    ],
                }
            )
        masses = [f["valid_mass"] for f in found]
        return {
            "positions": found,
            "mean_valid_mass": sum(masses) / len(masses) if masses else None,
        }

    def _describe(self, token: int, p: float) -> dict[str, Any]:
        assert self.bytemap is not None
        piece = self.bytemap.id_bytes[token] if token < len(self.bytemap.id_bytes) else None
        return {"hex": None if piece is None else piece.hex(), "token": self.local.tokenizer.convert_ids_to_tokens(token), "p": round(p, 6)}
