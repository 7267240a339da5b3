"""What ``detect`` and ``summary`` show: a table on stderr, and a layers x heads heatmap."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import llmkit

_ROWS = [
    ("heads", "heads"),
    ("retrieval heads (>= threshold)", "retrieval_heads"),
    ("share of heads", "retrieval_share"),
    ("top 5% heads' share of score", "top5pct_share"),
    ("Gini of head scores", "gini"),
    ("layer entropy (bits)", "layer_entropy_bits"),
    ("layer entropy / log2(layers)", "layer_entropy_norm"),
    ("trials counted / run", None),
]


def _cell(summary: dict[str, Any], key: str | None) -> str:
    if key is None:
        run = summary.get("trials_run")
        return f"{summary.get('trials_counted', '?')} / {run if run is not None else '?'}"
    value = summary.get(key)
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_summaries(summaries: list[dict[str, Any]]) -> None:
    """One column per model: the organisation figures, then each model's top heads."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title="retrieval heads: organisation")
    table.add_column("")
    for summary in summaries:
        table.add_column(f"{summary['model']} (>= {summary['threshold']})", justify="right")
    for label, key in _ROWS:
        table.add_row(label, *(_cell(s, key) for s in summaries))
    console.print(table)
    for summary in summaries:
        top = Table(title=f"top heads: {summary['model']}")
        for column in ("layer", "head", "score"):
            top.add_column(column, justify="right")
        for layer, head, score in summary.get("top_heads", []):
            top.add_row(str(layer), str(head), f"{score:.3f}")
        console.print(top)


def plot_heatmap(heads: list[dict[str, Any]], folder: llmkit.SideOutput) -> Path:
    """``DIR/<model>_heads.png``: score per (layer, head), layers down, heads across."""
    matplotlib = llmkit.require("matplotlib", "plot", "ret-heads --plot")
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import numpy as np

    model = heads[0]["model"]
    layers = max(h["layer"] for h in heads) + 1
    width = max(h["head"] for h in heads) + 1
    grid = np.zeros((layers, width))
    for h in heads:
        grid[h["layer"], h["head"]] = h["score"]
    figure, axes = plt.subplots(figsize=(max(4.0, width * 0.25 + 2), max(3.0, layers * 0.2 + 1.5)))
    image = axes.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(1e-9, float(grid.max())))
    axes.set_xlabel("head")
    axes.set_ylabel("layer")
    axes.set_title(f"retrieval score: {model}")
    figure.colorbar(image, ax=axes)
    name = f"{re.sub(r'[^A-Za-z0-9._-]+', '_', model).strip('_')}_heads.png"
    with folder.replacing(name) as path:
        figure.savefig(path, dpi=120, bbox_inches="tight", format="png")
    plt.close(figure)
    return folder.target / name
