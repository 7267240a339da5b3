"""Neuron records as `neuron-attr score` writes them, for the tests of the commands that read them."""

from __future__ import annotations

from pathlib import Path

import orjson


def write_neuron_sets(path: Path, sets: dict[str, list[tuple[int, int]]], layers: int, width: int) -> str:
    """One record per (layer, index) of each task's set, ranked in the order given."""
    rows = [
        {"task": task, "model": "m", "layers": layers, "width": width, "layer": layer, "index": index, "rank": rank}
        for task, neurons in sets.items()
        for rank, (layer, index) in enumerate(neurons, 1)
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return str(path)
