"""PNG figures (matplotlib, Agg backend; the ``plot`` extra): the cross-ablation heatmap and the
depth distribution of neuron sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import llmkit
from llmkit import Record, SideOutput


def _pyplot() -> Any:
    matplotlib = llmkit.require("matplotlib", "plot", "--plot")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def cross_heatmap(summaries: list[Record], folder: SideOutput) -> Path:
    """Rows: whose neurons are suppressed; columns: the task evaluated; colour: the relative
    accuracy drop; each cell also shows the random control's drop."""
    plt = _pyplot()
    suppressed = sorted({r["neurons_task"] for r in summaries})
    evaluated = sorted({r["task"] for r in summaries})
    cells = {(r["neurons_task"], r["task"]): r for r in summaries}
    values = [[_value(cells.get((s, e)), "top_drop") for e in evaluated] for s in suppressed]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(evaluated), 1.2 + 0.9 * len(suppressed)))
    image = ax.imshow(values, cmap="Reds", vmin=0.0, vmax=1.0)
    for i, s in enumerate(suppressed):
        for j, e in enumerate(evaluated):
            random_drop = _value(cells.get((s, e)), "random_drop")
            ax.text(j, i, f"{values[i][j]:.2f}\n(rand {random_drop:.2f})", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(evaluated)), evaluated, rotation=30, ha="right")
    ax.set_yticks(range(len(suppressed)), suppressed)
    ax.set_xlabel("task evaluated")
    ax.set_ylabel("neurons suppressed (task)")
    fig.colorbar(image, ax=ax, label="relative accuracy drop")
    fig.tight_layout()
    with folder.replacing("cross_ablate.png") as path:
        fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
    return folder.target / "cross_ablate.png"


def _value(record: Record | None, name: str) -> float:
    value = None if record is None else record.get(name)
    return float("nan") if value is None else float(value)


def depth_lines(rows: list[Record], folder: SideOutput) -> Path:
    """One panel per task, one line per model: fraction of the set against layer / layers."""
    plt = _pyplot()
    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        models = sorted({str(r["model"]) for r in rows if r["task"] == task})
        for model in models:
            line = sorted((r["depth"], r["fraction"]) for r in rows if r["task"] == task and str(r["model"]) == model)
            ax.plot([d for d, _ in line], [f for _, f in line], marker="o", markersize=3, label=model)
        ax.set_title(task)
        ax.set_xlabel("normalised depth (layer / layers)")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("fraction of the neuron set")
    fig.tight_layout()
    with folder.replacing("layers.png") as path:
        fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
    return folder.target / "layers.png"
