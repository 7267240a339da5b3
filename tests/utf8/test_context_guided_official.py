"""`utf8-eval generate --protocol context-guided --compat official` builds its prompts as the paper's
code does, on a SentencePiece-style tokenizer (byte fallback, a space before a text) and on a
GPT-2 byte-level BPE one.

The reference is written from bytecanary ``src/bytecanary/evaluate_level1.py``
``Level1Evaluator._evaluate_language`` (context = the sentence prompt without the term, encoded
without special tokens; for k < L the prompt is the context's ids plus
``ByteTokenizer.get_char_prefix_tokens(term, k)``; at k >= L the whole sentence encoded normally)
and ``src/bytecanary/decode.py`` ``ByteTokenizer.get_char_prefix_tokens`` (a space byte before the
prefix bytes when ``_detect_space_prefix`` finds that encoding "A" starts with a space byte) and
``token_ids_to_bytes`` (<0xNN> is a byte, ▁ a space; GPT-2's byte table; any other token, special
ones included, its text). Scores: ``utils.py`` ``check_utf8_validity_incremental`` over the prompt's
bytes plus the generated ones, and ``dfa.py`` ``compute_dual_score`` (test_paper_scores.official).
"""

from __future__ import annotations

import pytest

from llmkit import BackendOptions, Completion
from llmkit.testing import ScriptedBackend, run_command
from llmkit_utf8.generate import GenerateSettings, GenerateStep

from .test_paper_scores import official as official_dual_score

SPIECE = "\u2581"
RECORDS = [
    {"context": "ctx:", "term": "日本"},  # a piece of the vocabulary: whole-sentence tokenization merges it
    {"context": "ctx: ", "term": "語"},  # not in the vocabulary: byte fallback either way
    {"context": "over ", "term": "the"},
    {"context": "東京は", "term": "日本"},
]


def _spm_tokenizer():
    """A Llama-2-style tokenizer: BPE with byte fallback, "▁" prepended and spaces as "▁"."""
    from tokenizers import Tokenizer, models, normalizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    for piece in [SPIECE, "c", "t", "x", ":", f"{SPIECE}c", "tx", f"{SPIECE}ctx", "日", "本", "日本", "h", "e", "th", "the",
                  "o", "v", "r", "ov", "er", "over", f"{SPIECE}over", f"{SPIECE}the", "東", "京", "は", "東京"]:
        vocab[piece] = len(vocab)
    merges = [(SPIECE, "c"), ("t", "x"), (f"{SPIECE}c", "tx"), ("日", "本"), ("t", "h"), ("th", "e"), ("o", "v"),
              ("e", "r"), ("ov", "er"), (SPIECE, "over"), (SPIECE, "the"), ("東", "京")]
    raw = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True))
    raw.normalizer = normalizers.Sequence([normalizers.Prepend(SPIECE), normalizers.Replace(" ", SPIECE)])
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _save_model(tokenizer, path):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=32, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    return _save_model(_spm_tokenizer(), tmp_path_factory.mktemp("spm_tiny"))


def gpt2_byte_table() -> dict[int, str]:
    """GPT-2's bytes-to-unicode table: printable bytes as themselves, the rest from U+0100 on."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


class OfficialBytes:
    """bytecanary's ByteTokenizer: byte ids, token ids to bytes, the space-prefix test."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        vocab = tokenizer.get_vocab()
        self.spiece = "<0x00>" in vocab
        table = gpt2_byte_table()
        self.byte_to_id = {b: vocab[f"<0x{b:02X}>"] if self.spiece else vocab[table[b]] for b in range(256)}
        self.unicode_to_byte = {c: b for b, c in table.items()}
        self.space = self.to_bytes(tokenizer.encode("A", add_special_tokens=False))[:1] == b" "

    def to_bytes(self, ids):
        out = bytearray()
        for token in self.tokenizer.convert_ids_to_tokens(list(ids)):
            if self.spiece:
                if token.startswith("<0x") and token.endswith(">"):
                    out.append(int(token[3:-1], 16))
                elif token.startswith(SPIECE):
                    out += b" " + token[1:].encode()
                else:
                    out += token.encode()
            else:
                for ch in token:
                    out += bytes([self.unicode_to_byte[ch]]) if ch in self.unicode_to_byte else ch.encode()
        return bytes(out)

    def prompts(self, context, term):
        sentence = context + term
        head = self.tokenizer.encode(sentence[: -len(term)], add_special_tokens=False)
        data = term.encode()
        found = []
        for k in range(1, len(data) + 1):
            if k >= len(data):
                found.append(self.tokenizer.encode(sentence, add_special_tokens=False))
            else:
                found.append(head + [self.byte_to_id[b] for b in (b" " if self.space else b"") + data[:k]])
        return found

    def old_llmkit_prompts(self, context, term):
        """What llmkit built before: the context's ids then the term's first k bytes, for every k."""
        head = self.tokenizer.encode(context, add_special_tokens=False)
        data = term.encode()
        return [head + [self.byte_to_id[b] for b in data[:k]] for k in range(1, len(data) + 1)]


def _prompts_llmkit_sends(tokenizer, record):
    backend = ScriptedBackend(lambda prompt: Completion("", [tokenizer.eos_token_id], "stop"))
    backend._tokenizer = tokenizer
    settings = GenerateSettings(protocol="context-guided", compat="official")
    step = GenerateStep(BackendOptions(), settings, backend=backend)
    step.open()
    step.process([record])
    return [list(p.ids) for p in backend.prompts]


@pytest.fixture(scope="module", params=["sentencepiece", "gpt2"])
def tokenizer(request, spm_model, tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(spm_model if request.param == "sentencepiece" else tiny_llama)


def test_prompts_follow_the_official_rule(tokenizer):
    ref = OfficialBytes(tokenizer)
    differ = 0
    for record in RECORDS:
        expected = ref.prompts(record["context"], record["term"])
        assert _prompts_llmkit_sends(tokenizer, record) == expected, record
        differ += sum(a != b for a, b in zip(expected, ref.old_llmkit_prompts(record["context"], record["term"]), strict=True))
    if ref.spiece:
        # the space byte token makes every k < L prompt differ, and merged pieces the k = L ones
        assert ref.space and differ == sum(len(r["term"].encode()) for r in RECORDS) - 1
    else:
        assert not ref.space and differ >= 2  # k = L of "the" and of "日本" where BPE merges


@pytest.mark.slow
@pytest.mark.parametrize("which", ["sentencepiece", "gpt2"])
def test_generated_bytes_and_scores_match_the_official_pipeline(which, spm_model, tiny_llama):
    """End to end on a real tiny model: llmkit's output equals the official pipeline's greedy
    generation of 5 tokens (pads after EOS, written as text) scored step by step."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = spm_model if which == "sentencepiece" else tiny_llama
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ref = OfficialBytes(tokenizer)
    run = run_command(["utf8-eval", "generate", "--backend", "hf", "-m", str(path), "--protocol", "context-guided",
                       "--compat", "official", "--steps", "5", "-i", "in.jsonl", "-q"], files={"in.jsonl": RECORDS})
    assert run.status == 0, run.stderr
    compared = 0
    for record, row in zip(RECORDS, run.outputs, strict=True):
        gold_all = record["term"].encode()
        for k, (prompt, ours) in enumerate(zip(ref.prompts(record["context"], record["term"]), row["utf8_generate"]["runs"],
                                               strict=True), start=1):
            with torch.no_grad():
                out = model.generate(torch.tensor([prompt]), max_new_tokens=5, do_sample=False, pad_token_id=pad,
                                     eos_token_id=tokenizer.eos_token_id)
            generated = out[0, len(prompt):].tolist()
            generated += [pad] * (5 - len(generated))  # what a batch writes after a finished row
            assert ours["generated_hex"] == ref.to_bytes(generated).hex(), (record, k)
            steps = [ref.to_bytes(prompt + generated[:i]) for i in range(1, 6)]
            assert ours["valid"] == [_decodes(b) for b in steps]
            assert ours["V_binary_soft"] == [round(official_dual_score(b)[1], 6) for b in steps]
            assert ours["V_partial"] == [round(official_dual_score(b)[2], 6) for b in steps]
            gold = gold_all[k:]
            match = bool(gold) and any(ref.to_bytes(generated[:i]).startswith(gold) for i in range(1, 6))
            assert ours["term_match"][-1] == match
            compared += 1
    assert compared == sum(len(r["term"].encode()) for r in RECORDS)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
