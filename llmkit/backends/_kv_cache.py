"""The KV cache of vLLM on the CPU, sized to fit the machine when the user did not size it.

vLLM's CPU build, without ``VLLM_CPU_KVCACHE_SPACE``, asks for ``gpu_memory_utilization`` (0.9)
of the machine's whole memory and refuses to start when that much is not free: on a laptop or
a shared node with a few GB in use it never starts. llmkit then gives the engine half of the
memory that is free once the model's weights are counted, which leaves the other half to the
weights' working copies, activations and everything else on the machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KVCACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
_GIB = 1 << 30
_STEP = 64 << 20  # sizes are multiples of 64 MiB
_SMALLEST = 256 << 20
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def sized_kv_cache(args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` with ``kv_cache_memory_bytes`` chosen for a CPU engine, unless the user sized the
    cache (the environment variable, or the engine argument); says the choice on stderr."""
    chosen = dict(args)
    if os.environ.get(KVCACHE_ENV, "") != "" or chosen.get("kv_cache_memory_bytes") is not None:
        return chosen
    available, total = memory_available(), memory_total()
    if available is None or total is None:
        return chosen  # not Linux: vLLM's own rule
    weights = weights_bytes(str(chosen.get("model", "")))
    share = float(chosen.get("gpu_memory_utilization") or 0.9)
    size = kv_cache_bytes(available, total, weights, share)
    chosen["kv_cache_memory_bytes"] = size
    print(
        f"llmkit: vLLM on the CPU: {size / _GIB:.2f} GiB of KV cache (half of the {available / _GIB:.1f} GiB free"
        f"{f' after {weights / _GIB:.2f} GiB of weights' if weights else ''}); set {KVCACHE_ENV} (GiB) to choose",
        file=sys.stderr,
    )
    return chosen


def kv_cache_bytes(available: int, total: int, weights: int, share: float) -> int:
    """Half of what is free after the weights, never more than vLLM's own ``share`` of the whole
    memory, at least 256 MiB (vLLM then says plainly if even that does not fit), in 64 MiB steps."""
    size = min((available - weights) // 2, int(share * total))
    return max(_SMALLEST, size // _STEP * _STEP)


def weights_bytes(model: str) -> int:
    """Bytes of the weight files of a local model folder (0 for a hub name: not known before download)."""
    folder = Path(os.path.expanduser(model))
    if not model or not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.iterdir() if path.suffix in _WEIGHT_SUFFIXES and path.is_file())


def memory_available() -> int | None:
    return _meminfo("MemAvailable")


def memory_total() -> int | None:
    return _meminfo("MemTotal")


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name == key:
                    return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
