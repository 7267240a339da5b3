"""Rich tables on stderr: explained variance, loadings, regressions; and the warnings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from llmkit_ability_pca.analysis import Analysis


def warn(console: Console, message: str) -> None:
    console.print(f"[yellow]ability-pca warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def print_tables(console: Console, analysis: Analysis) -> None:
    console.print(_variance_table(analysis))
    console.print(_loadings_table(analysis, rotated=False))
    if analysis.rotation is not None:
        console.print(_loadings_table(analysis, rotated=True))
    if analysis.regressions:
        console.print(_regression_table(analysis))


def _variance_table(analysis: Analysis) -> Table:
    pca = analysis.pca
    label = "eigenvalue (correlation)" if pca.standardized else "eigenvalue (covariance)"
    table = Table(title=f"Explained variance ({len(analysis.matrix.models)} models, "
                        f"{len(analysis.matrix.benchmarks)} benchmarks; {analysis.k} kept)")
    for column in ("component", label, "ratio", "cumulative"):
        table.add_column(column, justify="right")
    cumulative = 0.0
    for k, ratio in enumerate(pca.explained_variance_ratio):
        cumulative += ratio
        style = "bold" if k < analysis.k else "dim"
        table.add_row(f"PC{k + 1}", f"{pca.eigenvalues[k]:.3f}", f"{ratio:.3f}", f"{cumulative:.3f}", style=style)
    if analysis.rotation is not None:
        for k, variance in enumerate(analysis.rotation.variance):
            table.add_row(f"RC{k + 1}", f"{variance:.3f}", f"{variance / pca.total_variance:.3f}", "", style="cyan")
    return table


def _loadings_table(analysis: Analysis, rotated: bool) -> Table:
    if rotated:
        assert analysis.rotation is not None  # asked for only when there is one
        names, loadings, title = analysis.rotated_names, analysis.rotation.loadings, "Varimax-rotated loadings"
    else:
        names, loadings, title = analysis.component_names, analysis.pca.scaled_loadings, "Loadings"
    if analysis.pca.standardized:
        title += " (correlation of benchmark and component)"
    table = Table(title=title)
    table.add_column("benchmark")
    for name in names:
        table.add_column(name, justify="right")
    for j, benchmark in enumerate(analysis.matrix.benchmarks):
        cells = []
        for k in range(len(names)):
            value = loadings[j, k]
            text = f"{value:+.2f}"
            cells.append(f"[bold]{text}[/bold]" if abs(value) >= 0.5 else text)
        table.add_row(benchmark, *cells)
    return table


def _regression_table(analysis: Analysis) -> Table:
    covariate = analysis.covariate
    assert covariate is not None  # asked for only after a regression
    x = f"log10({covariate.name})" if covariate.log10 else covariate.name
    table = Table(title=f"Component scores regressed on {x}")
    for column in ("component", "slope", "intercept", "r²", "p", "n"):
        table.add_column(column, justify="right")

    def show(value: float | int | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    for regression in analysis.regressions:
        fit = regression.fit
        table.add_row(regression.component, show(fit["slope"], ".4g"), show(fit["intercept"], ".4g"),
                      show(fit["r2"], ".3f"), show(fit["p_value"], ".2g"), str(fit["n"]))
    return table
