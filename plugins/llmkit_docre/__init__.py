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
from llmkit_docre.options import TrainFlags, train_flags

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


@app.command("train")
@train_flags
def train(
    flags: TrainFlags,
    encoder: Annotated[str, typer.Option(help="Hugging Face encoder (name or path): BERT, RoBERTa, DeBERTa, a Japanese BERT.")],
    train: Annotated[str, typer.Option(help="Training documents (DocRED JSON array or JSONL).")],
    relations: Annotated[str, typer.Option(help="rel2id or rel_info file naming the relations.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Model directory to write (the best dev F1 checkpoint).")],
    dev: Annotated[str | None, typer.Option(help="Dev documents, scored after every epoch.")] = None,
    evi_lambda: Annotated[float, typer.Option(min=0, help="Weight of the evidence KL (DREEAM 0.1; 0 = ATLOP).")] = 0.1,
) -> None:
    """Train DREEAM (ATLOP with --evi-lambda 0) on DocRED-format documents; progress and dev F1 per epoch on stderr."""
    from pathlib import Path

    from llmkit_docre.data import load_documents, load_relations
    from llmkit_docre.train import Trainer, report_rejects

    options = flags.to_options(evi_lambda=evi_lambda)
    inventory = load_relations(relations)
    train_docs, rejected = load_documents(train, inventory)
    report_rejects(options, train, rejected)  # type: ignore[arg-type]
    dev_docs: list = []
    if dev:
        dev_docs, rejected = load_documents(dev, inventory)
        report_rejects(options, dev, rejected)  # type: ignore[arg-type]
    Trainer(encoder, inventory, Path(output), options).run(train_docs, dev_docs)  # type: ignore[arg-type]


@app.command("predict")
@llmkit.io_options
def predict(
    io: llmkit.IOOptions,
    model: Annotated[str, typer.Option(help="Model directory written by `docre train`.")],
    evi_threshold: Annotated[float | None, typer.Option(help="Sentence attention above which a sentence is evidence (default: the model's, 0.2).")] = None,
    isf: Annotated[bool, typer.Option(help="Inference-stage fusion (DREEAM): re-predict every pair on its evidence sentences and merge the two runs' scores.")] = False,
    isf_threshold: Annotated[float | None, typer.Option(help="--isf: fused-score threshold (default: the one `docre isf-tune` saved in the model directory).")] = None,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).")] = None,
) -> None:
    """Add 'predicted_labels' (h, t, r, score, evidence) to each DocRED document (JSONL in, JSONL out)."""
    from llmkit_docre.predict import PredictStep

    llmkit.run_step(PredictStep(model, device, evi_threshold, isf, isf_threshold), io)


@app.command("transfer")
@llmkit.io_options
@llmkit.backend_options
def transfer(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
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

    config = TransferConfig(target_lang, source_lang, unit, retries, tokenizer, prompt, retry_prompt, field)
    llmkit.run_step(TransferStep(backend_options, config), io)  # the template refuses a missing --model


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


@app.command("isf-tune")
def isf_tune(
    model: Annotated[str, typer.Option(help="Model directory written by `docre train`.")],
    dev: Annotated[str, typer.Option(help="Dev documents with gold labels.")],
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).")] = None,
) -> None:
    """Choose the inference-stage-fusion threshold on dev (best F1) and save it in the model directory."""
    import sys

    from llmkit_docre.data import load_documents
    from llmkit_docre.isf import save_threshold, tune
    from llmkit_docre.predict import PredictStep

    step = PredictStep(model, device)
    step.open()
    documents, rejected = load_documents(dev, step.relations)
    if rejected:
        print(f"docre: {len(rejected)} dev documents rejected (first at {rejected[0][0]}: {rejected[0][1].reason})", file=sys.stderr)
    threshold, f1 = tune(step, documents)
    path = save_threshold(model, threshold, f1)
    print(f"docre: ISF threshold {threshold:.4f}, dev F1 with fusion {100 * f1:.2f}; saved to {path}", file=sys.stderr)


@app.command("self-train")
def self_train(
    teacher: Annotated[str, typer.Option(help="Teacher model directory (trained with the evidence loss).")],
    distant: Annotated[str, typer.Option(help="Distantly supervised documents (labels, no evidence needed).")],
    train: Annotated[str, typer.Option(help="Annotated documents for the final fine-tuning (with evidence).")],
    relations: Annotated[str, typer.Option(help="rel2id or rel_info file (the teacher's inventory).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Student model directory.")],
    dev: Annotated[str | None, typer.Option(help="Dev documents, scored after every epoch of both phases.")] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder the student starts from (default: the teacher's original encoder).")] = None,
    attn_lambda: Annotated[float, typer.Option(min=0, help="Weight of KL(teacher || student) token attention (DREEAM's args.py default 1.0).")] = 1.0,
    evi_lambda: Annotated[float, typer.Option(min=0, help="Weight of the evidence KL in the fine-tuning.")] = 0.1,
    distant_lr: Annotated[float, typer.Option(help="Distant phase: encoder learning rate.")] = 3e-5,
    distant_added_lr: Annotated[float, typer.Option(help="Distant phase: added layers' learning rate.")] = 1e-4,
    distant_epochs: Annotated[int, typer.Option(min=1, help="Distant phase: epochs.")] = 2,
    distant_grad_accum: Annotated[int, typer.Option(min=1, help="Distant phase: batches per optimizer step.")] = 2,
    distant_max_grad_norm: Annotated[float, typer.Option(help="Distant phase: gradient norm clip.")] = 5.0,
    finetune_lr: Annotated[float, typer.Option(help="Fine-tuning: encoder learning rate.")] = 1e-6,
    finetune_added_lr: Annotated[float, typer.Option(help="Fine-tuning: added layers' learning rate.")] = 3e-6,
    finetune_epochs: Annotated[int, typer.Option(min=1, help="Fine-tuning: epochs.")] = 10,
    finetune_max_grad_norm: Annotated[float, typer.Option(help="Fine-tuning: gradient norm clip.")] = 2.0,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per batch.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 66,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue: stored teacher attentions are reused, each phase resumes from its last epoch.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")] = False,
) -> None:
    """DREEAM evidence self-training: teacher token attention on distant data -> student -> fine-tuning with evidence."""
    from pathlib import Path

    from llmkit_docre.data import load_documents, load_relations
    from llmkit_docre.selftrain import Phase
    from llmkit_docre.selftrain import self_train as run_self_train
    from llmkit_docre.train import TrainOptions, report_rejects

    base = TrainOptions(
        batch_size=batch_size, seed=seed, device=device, resume=resume, quiet=quiet, evi_lambda=evi_lambda, attn_lambda=attn_lambda
    )
    inventory = load_relations(relations)
    docs = {}
    for name, path in (("distant", distant), ("train", train), ("dev", dev)):
        docs[name], rejected = load_documents(path, inventory) if path else ([], [])
        report_rejects(base, path or "", rejected)
    run_self_train(
        teacher, encoder, inventory, docs["distant"], docs["train"], docs["dev"], Path(output), base,
        Phase(distant_lr, distant_added_lr, distant_epochs, distant_grad_accum, distant_max_grad_norm),
        Phase(finetune_lr, finetune_added_lr, finetune_epochs, 1, finetune_max_grad_norm),
    )
