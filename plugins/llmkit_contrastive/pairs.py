"""Opening the expert/amateur pair on the backend the user chose, after the vocabulary check."""

from __future__ import annotations

import dataclasses
import sys

from llmkit import BackendOptions, BackendUnavailable, UsageError
from llmkit.backends import Backend, default_backend_name, load_tokenizer

from llmkit_contrastive.chat import check_chat_template
from llmkit_contrastive.contrast import Contrast
from llmkit_contrastive.settings import DEFAULT_SAMPLING, GenSettings
from llmkit_contrastive.vocab import check_same_vocab


def open_pair(settings: GenSettings, options: BackendOptions, chat: bool = True) -> Backend:
    """The contrastive pair backend: vLLM's one-engine pair, or hf lockstep decoding.

    The tokenizers are checked first, before either model loads. When vLLM cannot be imported,
    the run goes on with hf and a warning on stderr that says why. When the pair's engine does not
    start (BackendUnavailable: vLLM cannot build the pair for these models, or the GPU runs out
    of memory): with vllm only the default (no ``--backend``) the run falls back to hf with the
    warning; with ``--backend vllm`` given, it stops (exit 69), since the user asked for that
    engine and an hf run of a large pair would be far slower than they planned. A usage error (a
    malformed LLMKIT_VLLM_ENGINE_ARGS, remote code not allowed) always stops the run.
    """
    assert settings.amateur is not None
    expert_tokenizer = load_tokenizer(settings.expert_model, options.trust_remote_code)
    amateur_tokenizer = load_tokenizer(settings.amateur, options.trust_remote_code)
    vocab_size = check_same_vocab(expert_tokenizer, amateur_tokenizer)
    check_chat_template(expert_tokenizer, settings.expert_model, chat)
    name = options.backend or default_backend_name()
    if name == "vllm":
        reason = vllm_unavailable_reason()
        if reason is None:
            from llmkit_contrastive.vllm_pair import VLLMContrastivePair

            try:
                contrast = li_contrast(settings, options) if settings.formula == "li" else settings.contrast
                return VLLMContrastivePair(settings.expert_model, settings.amateur, expert_tokenizer, vocab_size, contrast, options)
            except BackendUnavailable as exc:
                if options.backend == "vllm":
                    raise BackendUnavailable(f"the vllm contrastive pair did not start: {exc}; "
                                             "give --backend hf for hf lockstep decoding") from exc
                reason = f"its engine did not start: {exc}"
        print(f"contrastive-gen: warning: the vllm pair is unavailable ({reason}); using hf lockstep decoding", file=sys.stderr)
        name = "hf"
    if name != "hf":
        raise UsageError(f"contrastive decoding needs both models' logits locally: use --backend hf or vllm, not {name!r}")
    from llmkit_contrastive.hf_pair import HFContrastivePair

    return HFContrastivePair(settings.expert_model, settings.amateur, expert_tokenizer, vocab_size, settings.contrast, options)


def li_contrast(settings: GenSettings, options: BackendOptions) -> Contrast:
    """``li``'s settings with the run's sampling settings, which the vLLM pair applies to the
    expert inside the engine (vLLM's sampler can only temper and filter the scores it is given)."""
    params = options.sampling(**DEFAULT_SAMPLING)
    return dataclasses.replace(settings.contrast, temperature=params.temperature, top_k=max(params.top_k, 0), top_p=params.top_p)


def vllm_unavailable_reason() -> str | None:
    """Why the one-engine vLLM pair cannot run here, or None when it can."""
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # not installed, or broken beside this torch
        return f"vLLM cannot be imported: {exc}"
    return None
