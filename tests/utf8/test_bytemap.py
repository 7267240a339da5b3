"""Token ids to raw bytes for the three tokenizer families, built offline."""

from __future__ import annotations

import pytest

from llmkit import UsageError
from llmkit_utf8.bytemap import build_bytemap, bytes_to_unicode


def _round_trip(bmap) -> None:
    for b in range(256):
        assert bmap.to_bytes([bmap.byte_ids[b]]) == bytes([b])
    assert len(set(bmap.byte_ids)) == 256
    assert bmap.to_bytes(bmap.encode_bytes(bytes(range(256)))) == bytes(range(256))


def test_gpt2_table_is_a_bijection_onto_printable_characters():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "\u0120" and table[0] == "\u0100"
    assert all(c.isprintable() and not c.isspace() for c in table.values())


@pytest.fixture(scope="module")
def byte_tokenizer(tiny_byte):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_byte)


@pytest.fixture(scope="module")
def bpe_tokenizer(tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def test_byte_fallback(byte_tokenizer):
    bmap = build_bytemap(byte_tokenizer)
    assert bmap.family == "byte_fallback"
    _round_trip(bmap)
    assert bmap.byte_ids[0] == 4 and bmap.byte_ids[255] == 259
    assert bmap.id_bytes[byte_tokenizer.eos_token_id] is None and bmap.bos_id == byte_tokenizer.bos_token_id
    # an invalid sequence survives, where the tokenizer's decode writes U+FFFD
    ids = bmap.encode_bytes(b"\xe3\x81A")
    assert bmap.to_bytes(ids) == b"\xe3\x81A" and "\ufffd" in byte_tokenizer.decode(ids)


def test_byte_fallback_ordinary_pieces():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}, "\u2581the": 259, "日本": 260}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    bmap = build_bytemap(tok)
    _round_trip(bmap)
    assert bmap.to_bytes([259, 260]) == " the日本".encode()


def test_byte_level_bpe(bpe_tokenizer):
    bmap = build_bytemap(bpe_tokenizer)
    assert bmap.family == "byte_level"
    _round_trip(bmap)
    text = "日本語のテキスト and ascii, é 🙂"
    ids = bpe_tokenizer.encode(text, add_special_tokens=False)
    assert any(len(bmap.id_bytes[i]) > 1 for i in ids)  # merged multi-byte tokens are mapped too
    assert bmap.to_bytes(ids) == text.encode()
    for index, piece in enumerate(bmap.id_bytes):
        if piece is not None:
            assert bmap.to_bytes([index]).decode("utf-8", "replace") == bpe_tokenizer.decode([index])


def test_byt5():
    from transformers import ByT5Tokenizer

    tok = ByT5Tokenizer()
    bmap = build_bytemap(tok)
    assert bmap.family == "byt5"
    _round_trip(bmap)
    assert bmap.byte_ids[0] == 3 and bmap.byte_ids[255] == 258
    assert bmap.to_bytes(tok("日本").input_ids) == "日本".encode()  # the appended </s> writes nothing
    assert bmap.bos_id is None


def test_byt5_layout_without_the_class():
    """A vocabulary with ByT5's layout (3 specials, byte b at b+3) but byte-fallback names."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    bmap = build_bytemap(tok)
    _round_trip(bmap)
    assert bmap.byte_ids == [b + 3 for b in range(256)]


def test_tokenizer_without_byte_tokens_is_an_error():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(vocab={"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    with pytest.raises(UsageError, match="<0x00>..<0xFF>.*byte-level BPE.*ByT5"):
        build_bytemap(tok)
