"""Token ids to raw bytes, without the tokenizer's lossy decode.

``tokenizer.decode`` turns an invalid byte sequence into U+FFFD, which hides exactly what this
tool measures, so every token id is mapped to the bytes it stands for:

- byte-fallback vocabularies (SentencePiece / Llama-2 style): ``<0xNN>`` is byte NN; an ordinary
  piece is its UTF-8 text with every word marker ``▁`` read as a space, as SentencePiece decodes
  it (Llama-2's ``▁▁▁▁`` is four spaces); the paper's code reads only a piece's first ``▁`` so
  (``leading_marker_only``, for ``--compat official``);
- byte-level BPE (GPT-2 style): each character of a token is one byte through GPT-2's
  bytes-to-unicode table;
- ByT5-style: byte b is id b + offset (3 specials first), the token being ``chr(b)``;
- special tokens carry no bytes (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit import UsageError

FAMILIES = ("byte_fallback", "byte_level", "byt5")
_WORD_MARKER = "\u2581"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100..."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in keep}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(0x100 + shifted)
            shifted += 1
    return table


@dataclass
class ByteMap:
    """Both directions between token ids and bytes for one tokenizer."""

    family: str
    #: bytes of each token id; None for special tokens (they write no text)
    id_bytes: list[bytes | None]
    #: the token id that stands for each single byte value 0..255
    byte_ids: list[int]
    bos_id: int | None = None
    eos_ids: frozenset[int] = frozenset()

    def to_bytes(self, token_ids: list[int]) -> bytes:
        return b"".join(self.id_bytes[i] or b"" for i in token_ids if 0 <= i < len(self.id_bytes))

    def encode_bytes(self, data: bytes) -> list[int]:
        """One byte token per byte (the protocols' prompts for partial characters)."""
        return [self.byte_ids[b] for b in data]


def _vocab(tokenizer: Any) -> dict[str, int]:
    return dict(tokenizer.get_vocab())


def _special_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    ids.update(index for index, token in added.items() if getattr(token, "special", False))
    return ids


def _table(size: int, vocab: dict[str, int], special: set[int], convert) -> list[bytes | None]:
    id_bytes: list[bytes | None] = [None] * size
    for token, index in vocab.items():
        if index >= size or index in special:
            continue
        id_bytes[index] = convert(token)
    return id_bytes


def _byt5(tokenizer: Any, vocab: dict[str, int]) -> ByteMap | None:
    offset = getattr(tokenizer, "offset", None)
    if "ByT5" not in type(tokenizer).__name__ and offset is None:
        return None
    offset = 3 if offset is None else offset
    byte_ids = [b + offset for b in range(256)]
    size = max(max(vocab.values(), default=0) + 1, offset + 256)
    id_bytes: list[bytes | None] = [None] * size
    for b, index in enumerate(byte_ids):
        id_bytes[index] = bytes([b])
    return ByteMap("byt5", id_bytes, byte_ids)


def piece_bytes(piece: str, leading_marker_only: bool = False) -> bytes:
    """The bytes of an ordinary SentencePiece piece: every ``▁`` a space, or with
    ``leading_marker_only`` the first one alone (the others stay U+2581, three bytes)."""
    if not leading_marker_only:
        return piece.replace(_WORD_MARKER, " ").encode("utf-8")
    if piece.startswith(_WORD_MARKER):
        return b" " + piece[1:].encode("utf-8")
    return piece.encode("utf-8")


def _byte_fallback(vocab: dict[str, int], special: set[int], leading_marker_only: bool) -> ByteMap | None:
    names = [f"<0x{b:02X}>" for b in range(256)]
    if not all(name in vocab for name in names):
        return None

    def convert(token: str) -> bytes:
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            return bytes([int(token[3:5], 16)])
        return piece_bytes(token, leading_marker_only)

    size = max(vocab.values()) + 1
    return ByteMap("byte_fallback", _table(size, vocab, special, convert), [vocab[n] for n in names])


def _byte_level(vocab: dict[str, int], special: set[int]) -> ByteMap | None:
    table = bytes_to_unicode()
    if not all(table[b] in vocab for b in range(256)):
        return None
    inverse = {c: b for b, c in table.items()}

    def convert(token: str) -> bytes:
        if all(c in inverse for c in token):
            return bytes(inverse[c] for c in token)
        return token.encode("utf-8")  # an added, non-special token holds its plain text

    size = max(vocab.values()) + 1
    return ByteMap("byte_level", _table(size, vocab, special, convert), [vocab[table[b]] for b in range(256)])


def build_bytemap(tokenizer: Any, leading_marker_only: bool = False) -> ByteMap:
    """The byte map of a Hugging Face tokenizer; UsageError when it has no byte tokens.
    ``leading_marker_only``: a byte-fallback piece's first ``▁`` alone is a space (the paper's code)."""
    vocab = _vocab(tokenizer)
    special = _special_ids(tokenizer)
    found = _byt5(tokenizer, vocab) or _byte_fallback(vocab, special, leading_marker_only) or _byte_level(vocab, special)
    if found is None:
        raise UsageError(
            f"tokenizer {type(tokenizer).__name__} has no byte tokens; utf8-eval looks for byte-fallback "
            "tokens <0x00>..<0xFF>, a byte-level BPE alphabet (GPT-2's 256 bytes-to-unicode characters), "
            "or a ByT5 tokenizer (byte b at id b+3)"
        )
    length = len(tokenizer)
    if len(found.id_bytes) < length:
        found.id_bytes.extend([None] * (length - len(found.id_bytes)))
    found.bos_id = getattr(tokenizer, "bos_token_id", None)
    eos = getattr(tokenizer, "eos_token_id", None)
    found.eos_ids = frozenset([eos] if isinstance(eos, int) else (eos or []))
    return found
