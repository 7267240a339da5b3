"""llmkit docre: document-level relation extraction with evidence (DREEAM on ATLOP), the official
DocRED evaluation, evidence self-training; DocRED, Re-DocRED and JacRED data.

Modules: ``data`` (documents, relation inventories, validation; its docstring lists the stable
public functions), one module per command's work. Only typer and llmkit are imported here; the
commands import torch and transformers when they run.
"""

from __future__ import annotations

from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Document-level relation extraction with evidence (DREEAM/ATLOP): train, predict, evaluate, self-train.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Document-level relation extraction with evidence (DREEAM/ATLOP): train, predict, evaluate, self-train."""


@app.command("evaluate")
@llmkit.whole_input_options
def evaluate(
    io: llmkit.WholeInputOptions,
    gold: Annotated[str, typer.Option(help="Gold documents (DocRED JSON array or JSONL) with 'labels'.")],
    train: Annotated[
        str | None, typer.Option(help="Training documents: their facts are left out of Ign F1's precision.")
    ] = None,
    relations: Annotated[
        str | None, typer.Option(help="rel2id or rel_info file: adds each relation's readable name to its record.")
    ] = None,
    field: Annotated[str, typer.Option(help="Field of a document record holding its predicted triples.")] = "predicted_labels",
) -> None:
    """F1, Ign F1 and Evi F1 with the official DocRED evaluation's semantics.

    Input: documents with predicted triples (what `docre predict` writes) or official-format triples
    (title, h_idx, t_idx, r, evidence). Output: one record per relation, then the totals; the totals
    also on stderr as a table.
    """
    from llmkit_docre.data import load_relations
    from llmkit_docre.evaluate import EvaluateStep

    inventory = load_relations(relations) if relations else None
    llmkit.run_step(EvaluateStep(gold, train, field, inventory, show_table=not io.quiet), io)
