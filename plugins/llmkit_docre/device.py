"""``--device`` of the docre commands: the name checked with the other options, the device
picked where the model loads.

The two are apart on purpose: a name torch does not know is the user's mistake, known before
any input or model is read (exit 2); whether this machine has that CUDA device is known only
where the model loads, which under a cluster executor is a worker, not the driver.
"""

from __future__ import annotations

import torch

from llmkit import BackendUnavailable, UsageError


def parse_device(name: str) -> torch.device:
    """``--device`` as a torch device; a name torch does not know is a UsageError."""
    try:
        return torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"--device {name!r} is not a torch device ({exc})") from exc


def pick_device(name: str | None) -> torch.device:
    """``--device``, or cuda when available, else cpu; a name torch does not know is a usage error
    and a CUDA device this machine lacks is an unavailable backend."""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = parse_device(name)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise BackendUnavailable(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA devices")
    return device
