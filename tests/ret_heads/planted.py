"""A tiny byte-level model taught key-value retrieval, for the planted-effect test.

A context is a stream of pairs ``Kv`` (a letter key, a digit value: disjoint alphabets, no
separator between a key and its value, at times a space between two pairs), a newline, then keys
of the context asked again, each followed by its value: ``a3B7c1\\nB7a3``. Only the asked values
are in the loss. The value is predictable only by finding the key in the context and copying the
token after it: the induction circuit (previous-token heads in the local layers write "my
previous token is K" into each value position; a head of the full-attention layer matches the
asked key there, attends to the value itself and copies it), which is what Wu et al.'s copy rule
scores. 1,500 steps of 32 sequences, about two minutes of one loaded CPU core.
The same format is what ``detect`` is fed in the test: needle ``k7``, question ``k``, haystack a
stream of upper-case pairs, prompt ``{context}\\n{question}``.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

KEYS = string.ascii_letters
DIGITS = string.digits
#: two local layers (a sliding window of 2: a position sees itself and the one before), then one
#: full-attention layer: the retrieval heads can only be in the last layer, and the local layers'
#: eight heads, where the previous-token heads are, give the random control room to miss them
LAYERS = ["sliding_attention", "sliding_attention", "full_attention"]
DROP_HEADS = 0.3


def pairs_text(rng: random.Random, pairs: list[tuple[str, str]], spaces: float = 0.25) -> str:
    """The pairs as a stream, a space between two pairs with probability ``spaces``."""
    return "".join(f"{' ' if i and rng.random() < spaces else ''}{key}{value}" for i, (key, value) in enumerate(pairs))


def random_pairs(rng: random.Random, count: int, keys: str = KEYS) -> list[tuple[str, str]]:
    return [(key, rng.choice(DIGITS)) for key in rng.sample(keys, count)]


class ByteIds:
    """The byte tokenizer's encoding without its per-call cost: BOS, then byte + offset."""

    def __init__(self, tokenizer: Any) -> None:
        self.offset = tokenizer.convert_tokens_to_ids("<0x00>")
        self.bos = tokenizer.bos_token_id

    def __call__(self, text: str, bos: bool = True) -> list[int]:
        ids = [self.offset + b for b in text.encode("utf-8")]
        return [self.bos, *ids] if bos else ids


def training_example(rng: random.Random, encode: ByteIds) -> tuple[list[int], list[int]]:
    pairs = random_pairs(rng, rng.randint(3, 18))
    context = pairs_text(rng, pairs)
    if rng.random() < 0.3:  # detect cuts its haystack anywhere: a context may end on a bare key
        context += rng.choice(KEYS)
    ids = encode(context + "\n")
    labels = [-100] * len(ids)
    for key, value in rng.sample(pairs, len(pairs)):  # every key asked: a dense signal
        ids += encode(f"{key}{value}", bos=False)
        labels += [-100, ids[-1]]
    return ids, labels


def build_base(root: Path, hidden: int = 64, heads: int = 4, seed: int = 0) -> Path:
    """A fresh two-layer SmolLM3 (a Llama with per-layer attention types) on the byte tokenizer of :mod:`llmkit.tiny_model`, its layer 0 with a
    sliding window of 2 (each position sees itself and the one before), layer 1 full attention.
    The window is an ordinary option of the family (``layer_types``); it hands layer 0 the
    previous token, so the retrieval circuit forms in a minute of CPU. Without it (the tiny Llama
    and a GPT-2, tried) no previous-token head had formed in 1,500 steps and accuracy sat near 0.4.
    (Not Qwen2, which has the same option: transformers 5 loads a Qwen2 checkpoint's tokenizer as
    Qwen2Tokenizer, which ignores the byte tokenizer's tokenizer.json.)"""
    import torch
    from transformers import AutoTokenizer, SmolLM3Config, SmolLM3ForCausalLM

    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    byte = build_tiny_model(root / "byte", TinyModelSpec(arch="byte", layers=1, hidden_size=32, heads=1, max_position=256))
    tokenizer = AutoTokenizer.from_pretrained(byte)
    torch.manual_seed(seed)
    config = SmolLM3Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=len(LAYERS),
                         num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=256,
                         use_sliding_window=True, sliding_window=2, layer_types=LAYERS,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    out = root / "base"
    SmolLM3ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def drop_heads(model: Any, rate: float, generator: Any) -> list[Any]:
    """DropHead on the local layers while training: each head's output is zeroed with probability
    ``rate`` (per sequence; the others scaled by 1 / (1 - rate)), so the previous-token work is spread
    over several heads, as in real models, and the random control does not remove all of it."""
    import torch

    def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not module.training:
            return None
        (x,) = args
        batch, length, width = x.shape
        heads = model.config.num_attention_heads
        keep = (torch.rand(batch, 1, heads, 1, generator=generator) >= rate).to(x.dtype) / (1 - rate)
        return ((x.view(batch, length, heads, width // heads) * keep).view(batch, length, width),)

    return [layer.self_attn.o_proj.register_forward_pre_hook(hook)
            for layer, kind in zip(model.model.layers, LAYERS, strict=True) if kind == "sliding_attention"]


def train(base: Path, out: Path, steps: int, seed: int = 0, lr: float = 1e-3, batch: int = 32,
          log: Any = None) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    rng = random.Random(seed)
    encode = ByteIds(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    hooks = drop_heads(model, DROP_HEADS, torch.Generator().manual_seed(seed))
    model.train()
    for step in range(steps):
        examples = [training_example(rng, encode) for _ in range(batch)]
        width = max(len(ids) for ids, _ in examples)
        ids = torch.tensor([i + [0] * (width - len(i)) for i, _ in examples])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in examples])
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in examples])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if log is not None and step % 100 == 0:
            log(step, loss.item(), model)
    for hook in hooks:
        hook.remove()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def accuracy(model: Any, tokenizer: Any, trials: int = 100, seed: int = 1) -> float:
    """Share of fresh contexts (10 pairs) whose asked value the model writes first (chance: 0.1)."""
    import torch

    rng = random.Random(seed)
    encode = ByteIds(tokenizer)
    prompts, answers = [], []
    for _ in range(trials):
        pairs = random_pairs(rng, 10)
        key, value = rng.choice(pairs)
        prompts.append(encode(f"{pairs_text(rng, pairs)}\n{key}"))
        answers.append(encode(value, bos=False)[0])
    right = 0
    with torch.inference_mode():
        for ids, answer in zip(prompts, answers, strict=True):
            logits = model(input_ids=torch.tensor([ids])).logits
            right += int(logits[0, -1].argmax()) == answer
    return right / trials
