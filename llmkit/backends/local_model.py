"""A transformers causal LM held in this process, for the plugins that need the model itself:
hooks on its modules, gradients, whole next-token distributions.

    local = LocalModel(options)      # a ModelOptions (or BackendOptions): --model checked now, nothing loaded
    local.tokenizer                  # loaded on first use, once
    local.model                      # likewise: on --device, in --dtype, in eval mode
    local.config                     # its transformers config alone, read before any weights

It loads by the hf backend's rules (:func:`llmkit.backends.load_causal_lm`): float32 on the CPU
for ``--dtype auto``, a model's own code only with ``--trust-remote-code``, a load failure
:class:`~llmkit.BackendUnavailable` (exit 69). A step builds one in ``__init__`` (so a missing
``--model`` is a usage error before any input is read) and uses it in ``open`` or later.

Pickling one (a step shipped to Ray workers) carries its options only, loaded or not: each
process that uses it loads its own copy, and the weights never travel.
"""

from __future__ import annotations

from typing import Any

from llmkit.backends.options import ModelOptions

__all__ = ["LocalModel"]


class LocalModel:
    """A model and its tokenizer, loaded on first use (see the module doc)."""

    def __init__(self, options: ModelOptions, why: str = "") -> None:
        """``why`` lengthens the usage error of a missing ``--model`` ("by neuron-attr", say)."""
        self.options = options
        self.name = options.require_model(why)
        self._model: Any = None
        self._tokenizer: Any = None
        self._config: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> LocalModel:
        """Load the tokenizer and the model now, unless they are (returns self)."""
        self.tokenizer  # noqa: B018 (loads it)
        self.model  # noqa: B018
        return self

    @property
    def model(self) -> Any:
        """The transformers model, in eval mode on its device."""
        if self._model is None:
            from llmkit.backends.hf import load_causal_lm

            self._model = load_causal_lm(self.name, self.options)
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (loading it does not load the model)."""
        if self._tokenizer is None:
            from llmkit.backends._render import load_tokenizer

            self._tokenizer = load_tokenizer(self.name, self.options.trust_remote_code)
        return self._tokenizer

    @property
    def config(self) -> Any:
        """The model's transformers config, read once without the weights: for what a plugin
        decides before they load (the dtype a checkpoint is stored in, its shape). Read by the
        loaders' rules: a missing local folder or an unreadable config is BackendUnavailable
        (exit 69), a model with its own code without ``--trust-remote-code`` a usage error."""
        if self._config is None:
            self._config = _read_config(self.name, self.options.trust_remote_code)
        return self._config

    @property
    def device(self) -> Any:
        """The torch device the weights are on."""
        return self.model.device

    @property
    def context_length(self) -> int | None:
        """Tokens the model takes at once: ``--max-model-len`` when given, else its config's (the
        text model's, for a multimodal one), else the tokenizer's, as the hf backend counts it."""
        from llmkit.backends._render import context_length

        config = self.model.config
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        config_max = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)
        return context_length(config_max, self.tokenizer, self.options.max_model_len)

    def close(self) -> None:
        """Let the weights go (a later use loads them again)."""
        if self._model is not None and str(self._model.device).startswith("cuda"):
            import torch

            self._model = None
            torch.cuda.empty_cache()
        self._model = self._tokenizer = self._config = None

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.options, self.name = state["options"], state["name"]
        self._model = self._tokenizer = self._config = None

    def __repr__(self) -> str:
        return f"LocalModel({self.name!r}, {'loaded' if self.loaded else 'not loaded'})"


def _read_config(name: str, trust_remote_code: bool) -> Any:
    import os

    from transformers import AutoConfig

    from llmkit.backends._render import check_local_model, refuse_own_code
    from llmkit.errors import BackendUnavailable

    check_local_model(name)
    refuse_own_code(name, trust_remote_code)
    try:
        return AutoConfig.from_pretrained(os.path.expanduser(name), trust_remote_code=trust_remote_code)
    except Exception as exc:  # OSError (not found / offline), ValueError (an unknown model_type), ...
        raise BackendUnavailable(f"cannot read the config of model {name!r}: {exc}") from exc
