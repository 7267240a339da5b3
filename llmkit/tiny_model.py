"""Tiny random-weight models with real tokenizers, built offline.

Users smoke-test a pipeline on a laptop with them; the test suite uses them as fixtures. The two
causal LMs are Llama-style (so vLLM, transformers and an OpenAI-compatible vLLM server all load
them) and default to head_dim 32, which vLLM's CPU attention accepts (it rejects 16).

- ``llama``: a byte-level BPE tokenizer trained here with ``tokenizers`` on a small built-in corpus.
- ``byte``: one token per byte value, named ``<0x00>`` ... ``<0xFF>`` as byte-fallback tokenizers
  name them, after four specials; any text encodes to its UTF-8 bytes.

Two encoders (what document-level relation extraction trains on; eager attention, so that
attentions are returned), each with a lower-cased word-level tokenizer (BERT's specials, BERT's
split on spaces and punctuation) over a vocabulary given in order: the words of the built-in
corpus and of the files named, or the caller's own list. A word outside it is ``[UNK]``.

- ``bert``: BERT with absolute positions.
- ``deberta``: DeBERTa-v2 with relative positions (c2p and p2c attention), which a random encoder
  learns from far fewer documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


CAUSAL_ARCHS = ("llama", "byte")
ENCODER_ARCHS = ("bert", "deberta")
ENCODER_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class TinyModelSpec:
    arch: str = "llama"  # "llama" | "byte" | "bert" | "deberta"
    layers: int = 2
    hidden_size: int = 64
    heads: int = 2
    vocab_size: int = 512  # llama arch only; the byte arch has 4 + 256, an encoder its vocabulary
    max_position: int = 1024
    seed: int = 0
    dropout: float = 0.1  # encoders only (hidden and attention dropout)


def _corpus() -> list[str]:
    text = files("llmkit").joinpath("data/tiny_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()] * 4


def _bpe_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok


def _byte_tokenizer():
    from tokenizers import Tokenizer, decoders, models

    vocab = {name: i for i, name in enumerate(SPECIALS)}
    vocab.update({f"<0x{b:02X}>": len(SPECIALS) + b for b in range(256)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    return tok


def build_tiny_model(path: str | Path, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Write a tiny model (config, safetensors weights, tokenizer, chat template) to ``path``."""
    import torch
    from tokenizers import processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llmkit.errors import UsageError

    if spec.arch not in CAUSAL_ARCHS:
        raise UsageError(f"unknown --arch {spec.arch!r}; choose {', '.join(CAUSAL_ARCHS + ENCODER_ARCHS)}")
    if spec.hidden_size % spec.heads:
        raise UsageError("--hidden-size must be a multiple of --heads")
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only place, a file in the way, no permission: the user's path
        raise UsageError(f"cannot create the model folder {str(path)!r}: {exc.strerror or exc}") from exc

    raw = _bpe_tokenizer(spec.vocab_size) if spec.arch == "llama" else _byte_tokenizer()
    # Encoding with special tokens prepends BOS, as Llama tokenizers do; scoring relies on it so
    # that the first token of a text gets a log-prob too.
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", SPECIALS.index("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = spec.max_position
    tokenizer.save_pretrained(path)

    torch.manual_seed(spec.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.hidden_size * 2,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        head_dim=spec.hidden_size // spec.heads,
        max_position_embeddings=spec.max_position,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.generation_config.do_sample = False
    model.save_pretrained(path, safe_serialization=True)
    return path


def corpus_words(paths: Sequence[str | Path] = ()) -> list[str]:
    """The sorted words of the built-in corpus and of ``paths`` (lower-cased, split as BERT splits).

    A line that is JSON contributes the strings it holds (keys and values, at any depth), so a
    JSONL of documents gives its text, not JSON's quotes and escapes."""
    import json

    from tokenizers import normalizers, pre_tokenizers

    from llmkit.errors import UsageError

    texts = _corpus()
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--words-from {path}: cannot read it as UTF-8 text ({exc})") from exc
        for line in lines:
            try:
                texts.extend(_strings(json.loads(line)))
            except ValueError:
                texts.append(line)
    lower, split = normalizers.Lowercase(), pre_tokenizers.BertPreTokenizer()
    words = {word for text in texts for word, _span in split.pre_tokenize_str(lower.normalize_str(text))}
    return sorted(words)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def tiny_encoder(spec: TinyModelSpec, vocabulary: Sequence[str]) -> tuple[Any, Any]:
    """(model, fast tokenizer) of a random encoder over ``vocabulary`` (kept in its order after
    BERT's five specials; a repeated word keeps its first place)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from llmkit.errors import UsageError

    if spec.arch not in ENCODER_ARCHS:
        raise UsageError(f"unknown encoder --arch {spec.arch!r}; choose {', '.join(ENCODER_ARCHS)}")
    if spec.hidden_size % spec.heads:
        raise UsageError("--hidden-size must be a multiple of --heads")
    if not 0 <= spec.dropout < 1:
        raise UsageError(f"--dropout must be from 0 to below 1, got {spec.dropout}")
    vocab = {word: i for i, word in enumerate(dict.fromkeys([*ENCODER_SPECIALS, *vocabulary]))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    tokenizer.model_max_length = spec.max_position
    torch.manual_seed(spec.seed)
    return _encoder_model(spec, len(vocab)), tokenizer


def _encoder_model(spec: TinyModelSpec, vocab_size: int) -> Any:
    shared = {
        "vocab_size": vocab_size, "hidden_size": spec.hidden_size, "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads, "intermediate_size": 2 * spec.hidden_size,
        "max_position_embeddings": spec.max_position, "hidden_dropout_prob": spec.dropout,
        "attention_probs_dropout_prob": spec.dropout, "attn_implementation": "eager",
    }
    if spec.arch == "deberta":
        from transformers import DebertaV2Config, DebertaV2Model

        # relative positions (c2p/p2c): a random encoder learns to look at nearby tokens from a
        # few hundred documents, which absolute positions do not allow
        config = DebertaV2Config(
            **shared, relative_attention=True, position_buckets=16, max_relative_positions=64,
            pos_att_type=["c2p", "p2c"], position_biased_input=False,
        )
        return DebertaV2Model(config)
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(**shared))


def build_tiny_encoder(path: str | Path, spec: TinyModelSpec, vocabulary: Sequence[str] | None = None) -> Path:
    """Write a tiny encoder and its tokenizer to ``path`` (``save_pretrained``); the vocabulary
    defaults to the built-in corpus's words."""
    from llmkit.errors import UsageError

    model, tokenizer = tiny_encoder(spec, corpus_words() if vocabulary is None else vocabulary)
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the model folder {str(path)!r}: {exc.strerror or exc}") from exc
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
