"""PNG figures of the analysis (matplotlib, Agg backend; the ``plot`` extra).

scree.png, loadings.png, biplot.png (PC1 against PC2, models labelled, benchmark loadings as
arrows), correlation.png and, with ``--regress-on``, regression.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import llmkit
import numpy as np

from llmkit_ability_pca.analysis import Analysis
from llmkit_ability_pca.pca import VARIANCE_TARGET


def draw_all(analysis: Analysis, labels: list[str], folder: llmkit.SideOutput) -> list[str]:
    """Write the figures into ``folder`` (claimed by the command), each whole; returns their paths."""
    matplotlib = llmkit.require("matplotlib", "plot", "--plot")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(folder.path)
    drawers: list[tuple[str, Any]] = [("scree.png", _scree), ("loadings.png", _loadings), ("correlation.png", _correlation)]
    if len(analysis.pca.eigenvalues) >= 2:
        drawers.insert(2, ("biplot.png", lambda a, ax: _biplot(a, ax, labels)))
    if analysis.covariate is not None:
        drawers.append(("regression.png", None))
    written = []
    for filename, drawer in drawers:
        if drawer is None:
            figure = _regression(analysis, plt)
        else:
            figure, axes = plt.subplots(figsize=_size(filename, analysis))
            drawer(analysis, axes)
        figure.tight_layout()
        with folder.replacing(filename) as path:
            figure.savefig(path, dpi=150, format="png")
        plt.close(figure)
        written.append(str(out / filename))
    return written


def _size(filename: str, analysis: Analysis) -> tuple[float, float]:
    p = len(analysis.matrix.benchmarks)
    if filename == "correlation.png":
        return (max(6.0, 0.45 * p + 2), max(5.0, 0.45 * p + 1.5))
    if filename == "loadings.png":
        return (2.5 + 1.1 * analysis.k, max(4.0, 0.35 * p + 1.5))
    if filename == "biplot.png":
        return (9.0, 7.5)
    return (7.0, 4.5)


def _scree(analysis: Analysis, ax) -> None:
    ratios = analysis.pca.explained_variance_ratio
    index = np.arange(1, len(ratios) + 1)
    colours = ["tab:blue" if i <= analysis.k else "tab:gray" for i in index]
    ax.bar(index, ratios, color=colours, label="explained variance ratio")
    ax.plot(index, np.cumsum(ratios), "o-", color="tab:orange", label="cumulative")
    ax.axhline(VARIANCE_TARGET, linestyle="--", color="gray", linewidth=0.8)
    ax.set_xlabel("component")
    ax.set_ylabel("proportion of variance")
    ax.set_xticks(index)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Scree plot ({analysis.k} component(s) kept)")
    ax.legend(loc="center right")


def _heatmap(ax, values: np.ndarray, rows: list[str], columns: list[str], title: str, annotate: bool) -> None:
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if annotate:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 else "black")


def _loadings(analysis: Analysis, ax) -> None:
    if analysis.rotation is not None:
        values, names, title = analysis.rotation.loadings, analysis.rotated_names, "Varimax loadings"
    else:
        values, names, title = analysis.pca.scaled_loadings[:, : analysis.k], analysis.component_names, "Loadings"
    scale = np.abs(values).max()
    if not analysis.pca.standardized and scale > 0:  # covariance loadings are not bounded by 1
        values, title = values / scale, title + " (scaled to max |1|)"
    _heatmap(ax, values, analysis.matrix.benchmarks, names, title, annotate=True)


def _correlation(analysis: Analysis, ax) -> None:
    benchmarks = analysis.matrix.benchmarks
    title = f"{analysis.options.correlation.capitalize()} correlation ({analysis.correlation_n} models)"
    _heatmap(ax, analysis.correlation, benchmarks, benchmarks, title, annotate=len(benchmarks) <= 12)


def _biplot(analysis: Analysis, ax, labels: list[str]) -> None:
    pca = analysis.pca
    scores = pca.scores[:, :2]
    ax.scatter(scores[:, 0], scores[:, 1], s=14, color="tab:blue")
    for (x, y), label in zip(scores, labels):
        ax.annotate(label, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    # arrows: eigenvector weights stretched to the spread of the scores, so both share the axes
    arrows = pca.components[:2].T
    stretch = 0.9 * np.abs(scores).max() / max(np.abs(arrows).max(), 1e-12)
    for (dx, dy), benchmark in zip(arrows * stretch, analysis.matrix.benchmarks):
        ax.arrow(0, 0, dx, dy, color="tab:red", alpha=0.6, width=0.0, head_width=0.03 * stretch * 0.5,
                 length_includes_head=True)
        ax.annotate(benchmark, (dx, dy), color="tab:red", fontsize=7)
    ratios = pca.explained_variance_ratio
    ax.set_xlabel(f"PC1 ({ratios[0]:.1%})")
    ax.set_ylabel(f"PC2 ({ratios[1]:.1%})")
    ax.axhline(0, color="gray", linewidth=0.5)
    ax.axvline(0, color="gray", linewidth=0.5)
    ax.set_title("Biplot: model scores and benchmark loadings")


def _regression(analysis: Analysis, plt: Any) -> Any:
    covariate = analysis.covariate
    assert covariate is not None  # drawn only after a regression
    regressions = analysis.regressions
    blocks = [(analysis.pca.scores[:, : analysis.k], analysis.component_names)]
    if analysis.rotation is not None:
        blocks.append((analysis.rotation.scores, analysis.rotated_names))
    columns = analysis.k
    figure, axes = plt.subplots(len(blocks), columns, figsize=(3.6 * columns, 3.2 * len(blocks)), squeeze=False)
    x_label = f"log10({covariate.name})" if covariate.log10 else covariate.name
    fits = {r.component: r.fit for r in regressions}
    for row, (scores, names) in enumerate(blocks):
        for col, name in enumerate(names):
            ax = axes[row][col]
            y = scores[covariate.kept, col]
            ax.scatter(covariate.x, y, s=12)
            fit = fits[name]
            slope, intercept = fit["slope"], fit["intercept"]
            if slope is not None and intercept is not None:
                xs = np.linspace(covariate.x.min(), covariate.x.max(), 2)
                ax.plot(xs, slope * xs + intercept, color="tab:red")
                ax.set_title(f"{name}: r² = {fit['r2']:.2f}, n = {fit['n']}", fontsize=9)
            ax.set_xlabel(x_label)
            ax.set_ylabel(f"{name} score")
    return figure
