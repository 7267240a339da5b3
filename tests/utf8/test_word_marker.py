"""The SentencePiece word marker "▁" in pieces that hold it inside or alone ("a▁b", "▁▁", "▁").

llmkit reads every marker as a space, as SentencePiece decodes a piece (the reference: the
Replace / ByteFallback / Fuse decoder of Llama-2's Hugging Face tokenizer). ``--compat official``
reads them as the paper's code does, bytecanary ``src/bytecanary/decode.py``
``ByteTokenizer._spiece_to_bytes``: a lone "▁" and a piece's leading "▁" are one space byte;
any other "▁" is written as its UTF-8 text.
"""

from __future__ import annotations

import pytest

from llmkit import BackendOptions, Completion
from llmkit.testing import ScriptedBackend
from llmkit_utf8.bytemap import build_bytemap
from llmkit_utf8.generate import GenerateSettings, GenerateStep

MARKER = "\u2581"
PIECES = [MARKER, "a", "b", f"a{MARKER}b", f"{MARKER}{MARKER}", f"{MARKER}a{MARKER}", f"b{MARKER}"]


def official_reading(piece: str) -> bytes:
    """The paper's rule, on the piece's UTF-8 bytes: a leading E2 96 81 becomes 20, nothing else changes."""
    data = piece.encode("utf-8")
    marker = MARKER.encode("utf-8")
    return b" " + data[len(marker):] if data.startswith(marker) else data


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    vocab.update({piece: 259 + n for n, piece in enumerate(PIECES)})
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    raw.decoder = decoders.Sequence([decoders.Replace(MARKER, " "), decoders.ByteFallback(), decoders.Fuse()])
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_official_reading_keeps_inner_markers(tokenizer):
    bmap = build_bytemap(tokenizer, leading_marker_only=True)
    vocab = tokenizer.get_vocab()
    assert {piece: bmap.id_bytes[vocab[piece]] for piece in PIECES} == {piece: official_reading(piece) for piece in PIECES}
    assert bmap.id_bytes[vocab[f"a{MARKER}b"]] == b"a\xe2\x96\x81b" and bmap.id_bytes[vocab[MARKER]] == b" "


def test_llmkit_reading_is_sentencepieces_decode(tokenizer):
    bmap = build_bytemap(tokenizer)
    vocab = tokenizer.get_vocab()
    for piece in PIECES:
        assert bmap.id_bytes[vocab[piece]] == tokenizer.decode([vocab[piece]]).encode("utf-8"), piece
    assert bmap.id_bytes[vocab[f"{MARKER}{MARKER}"]] == b"  "


@pytest.mark.parametrize("compat", ["llmkit", "official"])
def test_generate_writes_the_bytes_of_its_compat(tokenizer, compat):
    generated = [tokenizer.get_vocab()[piece] for piece in (f"a{MARKER}b", f"{MARKER}{MARKER}")]
    backend = ScriptedBackend(lambda prompt: Completion("", generated, "length"))
    backend._tokenizer = tokenizer
    step = GenerateStep(BackendOptions(), GenerateSettings(protocol="context-free", compat=compat, steps=2), backend=backend)
    step.open()
    [record] = step.process([{"char": "é"}])
    if compat == "official":
        expected = b"".join(official_reading(piece) for piece in (f"a{MARKER}b", f"{MARKER}{MARKER}"))
    else:
        expected = tokenizer.decode(generated).encode("utf-8")
    assert {run["generated_hex"] for run in record["utf8_generate"]["runs"]} == {expected.hex()}
