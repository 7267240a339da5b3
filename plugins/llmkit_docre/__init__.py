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


@app.command("transfer")
@llmkit.io_options
@llmkit.backend_options
def transfer(
    io: llmkit.IOOptions,
    backend: llmkit.BackendOptions,
    target_lang: Annotated[str, typer.Option(help="Language to translate into (ja, zh, en, de, ... or a language name).")],
    source_lang: Annotated[str, typer.Option(help="Language of the input documents.")] = "en",
    unit: Annotated[str, typer.Option(help="Translate each sentence (sentence ids kept) or each whole document (document).")] = "sentence",
    retries: Annotated[int, typer.Option(min=0, help="Attempts more for a unit whose mention markers come back wrong.")] = 1,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer of the translation: fugashi, sudachi, chars or words (default: fugashi for ja, chars for zh, else words).")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="Replace the prompt (placeholders {source_lang}, {target_lang}, {text}).")] = None,
    retry_prompt: Annotated[
        str | None, typer.Option(help="Replace the retry prompt (also {previous} and {problems}).")
    ] = None,
    field: Annotated[str, typer.Option(help="Field recording the source title, model and marker statistics.")] = "transfer",
) -> None:
    """Translate DocRED documents into another language, mentions carried by numbered markers.

    Reject reasons: mention_lost, sentence_lost, truncated, too_long, empty_prompt, no_answer,
    field_exists, and the input validation's (bad_document, mention_out_of_range, unknown_entity,
    evidence_out_of_range).
    """
    from llmkit_docre.transfer import TransferConfig, TransferStep

    if backend.model is None and backend.backend != "openai":
        raise llmkit.UsageError("--model is required")
    config = TransferConfig(target_lang, source_lang, unit, retries, tokenizer, prompt, retry_prompt, field)
    llmkit.run_step(TransferStep(backend, config), io)


@app.command("recommend")
@llmkit.io_options
def recommend(
    io: llmkit.IOOptions,
    source: Annotated[str, typer.Option(help="model (a docre model), predictions (triples in the record) or distant (--kb).")] = "model",
    model: Annotated[str | None, typer.Option("--model", "-m", help="source model: a model directory written by docre train.")] = None,
    kb: Annotated[
        str | None, typer.Option(help="source distant: {head, relation, tail} JSONL, or distant-supervision DocRED documents.")
    ] = None,
    predictions_field: Annotated[str, typer.Option(help="source predictions: field holding the predicted triples.")] = "predicted_labels",
    top_k: Annotated[int, typer.Option(min=1, help="Most relations recommended per entity pair.")] = 4,
    min_score: Annotated[float | None, typer.Option(help="Keep relations scoring at least this (model: logit minus threshold).")] = None,
    field: Annotated[str, typer.Option(help="Field to write the recommendations to.")] = "recommended_labels",
    device: Annotated[str | None, typer.Option(help="source model: torch device (default: cuda when available, else cpu).")] = None,
) -> None:
    """Candidate relations for annotators: a trained model's predictions, or a knowledge base's.

    Reject reasons: missing_field, bad_labels, field_exists, and the input validation's.
    """
    from llmkit_docre.recommend import RecommendConfig, RecommendStep

    config = RecommendConfig(source, model, kb, predictions_field, field, top_k, min_score, device)
    llmkit.run_step(RecommendStep(config), io)


@app.command("edit-steps")
@llmkit.whole_input_options
def edit_steps(
    io: llmkit.WholeInputOptions,
    gold: Annotated[str, typer.Option(help="The annotated documents (DocRED JSON array or JSONL).")],
    field: Annotated[
        list[str] | None, typer.Option(help="Field of recommended triples; repeat to compare several (default recommended_labels).")
    ] = None,
    evidence: Annotated[bool, typer.Option(help="Also count evidence-sentence edits.")] = False,
    key: Annotated[str, typer.Option(help="Field matching a document to its gold one.")] = "title",
) -> None:
    """Edit steps (additions + deletions of (h, t, r)) turning recommendations into the gold labels.

    One record per document, then the totals (with several --field values or inputs, side by side
    and the reduction against the first). Reject reasons: no_gold, entities_differ, missing_field,
    bad_labels, duplicate_document.
    """
    from llmkit_docre.edit_steps import EditStepsConfig, EditStepsStep

    config = EditStepsConfig(gold, field or ["recommended_labels"], evidence, key)
    llmkit.run_step(EditStepsStep(config), io)
