"""The driver's environment variables that a Ray replica must see as the driver does.

A replica runs in a Ray worker of its node, with the environment that node's ``ray start`` had,
not the shell that ran ``llmkit``. What the driver read from its environment to plan the run
(``LLMKIT_VLLM_ENGINE_ARGS`` sizes the batches) and what a step reads where its model runs (the
engine arguments, the CPU engine's KV cache, the API key of the openai backend) must be the
same on every replica, or the run is not the one the user asked for. These variables go to each
replica with its settings (through Ray's object store, not its runtime environment, which the
cluster's job listings show) and are set before the step is unpickled.

Forwarded: every ``LLMKIT_*`` variable, ``VLLM_CPU_KVCACHE_SPACE`` (read by llmkit's KV-cache
rule), ``HF_TOKEN`` (gated models on the hub), and the variable each generating step's
``--api-key-env`` names. Other variables (vLLM's own ``VLLM_*``, many of them about one machine:
its address, its cores) are the nodes' to set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from llmkit.step import Step

#: set on a replica when the driver has them
NAMED = ("VLLM_CPU_KVCACHE_SPACE", "HF_TOKEN")
PREFIX = "LLMKIT_"


def forwarded_environment(step: Step, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` (the driver's) that the replicas of ``step`` are given."""
    environ = os.environ if environ is None else environ
    names = {name for name in environ if name.startswith(PREFIX)} | set(NAMED) | set(_api_key_names(step))
    return {name: environ[name] for name in sorted(names) if name in environ}


def _api_key_names(step: Step) -> Iterator[str]:
    """The ``--api-key-env`` of each generating step within ``step`` (a chain's steps included)."""
    name = getattr(getattr(step, "backend_options", None), "api_key_env", None)
    if isinstance(name, str) and name:
        yield name
    for inner in getattr(step, "steps", ()):
        yield from _api_key_names(inner)
