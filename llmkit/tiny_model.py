"""Tiny random-weight causal LMs with real tokenizers, built offline.

Users smoke-test a pipeline on a laptop with them; the test suite uses them as fixtures. Both
architectures are Llama-style (so vLLM, transformers and an OpenAI-compatible vLLM server all load
them) and default to head_dim 32, which vLLM's CPU attention accepts (it rejects 16).

- ``llama``: a byte-level BPE tokenizer trained here with ``tokenizers`` on a small built-in corpus.
- ``byte``: one token per byte value, named ``<0x00>`` ... ``<0xFF>`` as byte-fallback tokenizers
  name them, after four specials; any text encodes to its UTF-8 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    arch: str = "llama"  # "llama" | "byte"
    layers: int = 2
    hidden_size: int = 64
    heads: int = 2
    vocab_size: int = 512  # llama arch only; the byte arch has 4 + 256
    max_position: int = 1024
    seed: int = 0


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

    if spec.arch not in ("llama", "byte"):
        raise UsageError(f"unknown --arch {spec.arch!r}; choose llama or byte")
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
