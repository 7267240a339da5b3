"""vLLM side of the one-engine CoDIT pair: registration, the pair's config folder, and the engine.

vLLM runs ``register`` (entry point ``vllm.general_plugins``) in every process it starts; it only
names the architecture with a lazy ``module:Class`` string, so it imports nothing heavy and costs
nothing when no pair is loaded. The network itself lives in :mod:`llmkit_contrastive.pair_model`.
"""

from __future__ import annotations

ARCHITECTURE = "LlmkitContrastivePair"
MODEL_CLASS = "llmkit_contrastive.pair_model:ContrastivePairForCausalLM"


def register() -> None:
    """Tell vLLM's model registry about the pair architecture (no-op without vLLM)."""
    try:
        from vllm import ModelRegistry
    except Exception:  # vLLM absent or broken: nothing to register into
        return
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, MODEL_CLASS)
