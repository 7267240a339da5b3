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
from llmkit_docre.options import (
    Architecture,
    EditStepsConfig,
    RecommendConfig,
    RunFlags,
    Schedule,
    SelfTrainPhases,
    TransferConfig,
    architecture_options,
    edit_steps_options,
    recommend_options,
    run_options,
    schedule_options,
    self_train_options,
    transfer_options,
)

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
@architecture_options
@schedule_options
@run_options
def train(
    architecture: Architecture,
    schedule: Schedule,
    run: RunFlags,
    encoder: Annotated[str, typer.Option(help="Hugging Face encoder (name or path): BERT, RoBERTa, DeBERTa, a Japanese BERT.")],
    train: Annotated[str, typer.Option(help="Training documents (DocRED JSON array or JSONL).")],
    relations: Annotated[str, typer.Option(help="rel2id or rel_info file naming the relations.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Model directory to write (the best dev F1 checkpoint).")],
    dev: Annotated[str | None, typer.Option(help="Dev documents, scored after every epoch.")] = None,
    evi_lambda: Annotated[float, typer.Option(min=0, help="Weight of the evidence KL (DREEAM 0.1; 0 = ATLOP).")] = 0.1,
) -> None:
    """Train DREEAM (ATLOP with --evi-lambda 0) on DocRED-format documents; progress and dev F1 per epoch on stderr."""
    from dataclasses import asdict

    from llmkit_docre.checkpoint import check_encoder, check_output
    from llmkit_docre.data import load_documents, load_relations
    from llmkit_docre.train import Trainer, TrainOptions, pick_device, report_rejects

    options = TrainOptions(**asdict(architecture), **asdict(schedule), **asdict(run), evi_lambda=evi_lambda)
    directory = check_output(output, options.resume)
    pick_device(options.device)
    # the model folder is claimed like -o: never an input, locked for the run, exit 74 when unwritable
    with llmkit.SideOutputs(inputs=[p for p in (train, dev, relations) if p]) as side:
        side.folder("-o/--output", output, new=False)
        check_encoder(encoder, options.layers)
        inventory = load_relations(relations)
        train_docs, rejected = load_documents(train, inventory)
        report_rejects(options, train, rejected)
        dev_docs: list = []
        if dev:
            dev_docs, rejected = load_documents(dev, inventory)
            report_rejects(options, dev, rejected)
        Trainer(encoder, inventory, directory, options).run(train_docs, dev_docs)


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

    if isf_threshold is not None and not isf:
        raise llmkit.UsageError("--isf-threshold is the threshold of --isf; pass --isf too")
    if evi_threshold is not None and not 0 <= evi_threshold <= 1:
        raise llmkit.UsageError(f"--evi-threshold must be a number from 0 to 1, got {evi_threshold}")
    llmkit.run_step(PredictStep(model, device, evi_threshold, isf, isf_threshold), io)


@app.command("transfer")
@llmkit.io_options
@llmkit.backend_options
@transfer_options
def transfer(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, config: TransferConfig) -> None:
    """Translate DocRED documents into another language, mentions carried by numbered markers.

    Mentions with an empty span are carried across without a marker. Reject reasons:
    mention_lost, sentence_lost, truncated, too_long, empty_prompt, no_answer, field_exists, and
    the input validation's (bad_document, mention_out_of_range, unknown_entity, evidence_out_of_range).
    """
    from llmkit_docre.transfer import TransferStep

    llmkit.run_step(TransferStep(backend_options, config), io)  # the template refuses a missing --model


@app.command("recommend")
@llmkit.io_options
@recommend_options
def recommend(io: llmkit.IOOptions, config: RecommendConfig) -> None:
    """Candidate relations for annotators: a trained model's predictions, or a knowledge base's.

    Reject reasons: missing_field, bad_labels, field_exists, and the input validation's.
    """
    from llmkit_docre.recommend import RecommendStep

    llmkit.run_step(RecommendStep(config), io)


@app.command("edit-steps")
@llmkit.whole_input_options
@edit_steps_options
def edit_steps(io: llmkit.WholeInputOptions, config: EditStepsConfig) -> None:
    """Edit steps (additions + deletions of (h, t, r)) turning recommendations into the gold labels.

    One record per document, then the totals (with several --field values or inputs, side by side
    and the reduction against the first). Reject reasons: no_gold, entities_differ, missing_field,
    bad_labels, duplicate_document.
    """
    from llmkit_docre.edit_steps import EditStepsStep

    llmkit.run_step(EditStepsStep(config), io)


@app.command("isf-tune")
def isf_tune(
    model: Annotated[str, typer.Option(help="Model directory written by `docre train`.")],
    dev: Annotated[str, typer.Option(help="Dev documents with gold labels.")],
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).")] = None,
) -> None:
    """Choose the inference-stage-fusion threshold on dev (best F1) and save it in the model directory."""
    import sys
    from pathlib import Path

    from llmkit_docre.checkpoint import read_settings
    from llmkit_docre.data import load_documents
    from llmkit_docre.device import pick_device
    from llmkit_docre.isf import THRESHOLD_FILE, threshold_file, tune
    from llmkit_docre.predictor import Predictor

    pick_device(device)  # a wrong --device is known before the model folder and dev file are read
    relations = read_settings(model).inventory()
    with llmkit.SideOutputs(inputs=[dev]) as side:  # the saved threshold: never --dev, locked, written whole
        saved = side.file("--model", Path(model) / THRESHOLD_FILE)
        assert saved is not None
        documents, rejected = load_documents(dev, relations)
        if rejected:
            print(f"docre: {len(rejected)} dev documents rejected (first at {rejected[0][0]}: {rejected[0][1].reason})", file=sys.stderr)
        if not documents:
            raise llmkit.InputError(f"--dev {dev}: no usable dev document")
        threshold, f1 = tune(Predictor(model, device), documents)
        saved.write_bytes(threshold_file(threshold, f1))
    print(f"docre: ISF threshold {threshold:.4f}, dev F1 with fusion {100 * f1:.2f}; saved to {saved}", file=sys.stderr)


@app.command("self-train")
@self_train_options
@run_options
def self_train(
    phases: SelfTrainPhases,
    run: RunFlags,
    teacher: Annotated[str, typer.Option(help="Teacher model directory (trained with the evidence loss).")],
    distant: Annotated[str, typer.Option(help="Distantly supervised documents (labels, no evidence needed).")],
    train: Annotated[str, typer.Option(help="Annotated documents for the final fine-tuning (with evidence).")],
    relations: Annotated[str, typer.Option(help="rel2id or rel_info file (the teacher's inventory).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Student model directory.")],
    dev: Annotated[str | None, typer.Option(help="Dev documents, scored after every epoch of both phases.")] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder the student starts from (default: the teacher's original encoder).")] = None,
) -> None:
    """DREEAM evidence self-training: teacher token attention on distant data -> student -> fine-tuning with evidence.

    --resume reuses the stored teacher attentions and resumes each phase from its last epoch.
    """
    from dataclasses import asdict

    from llmkit_docre.checkpoint import check_output, read_settings
    from llmkit_docre.data import load_documents, load_relations
    from llmkit_docre.selftrain import self_train as run_self_train
    from llmkit_docre.train import TrainOptions, pick_device, report_rejects

    base = TrainOptions(**asdict(run), evi_lambda=phases.evi_lambda, attn_lambda=phases.attn_lambda)
    directory = check_output(output, run.resume)
    pick_device(run.device)
    read_settings(teacher)  # a missing or damaged teacher stops the run before any document is read
    # the student's folder is claimed like -o: never an input (the teacher's folder included), locked
    with llmkit.SideOutputs(inputs=[p for p in (teacher, distant, train, dev, relations) if p]) as side:
        side.folder("-o/--output", output, new=False)
        inventory = load_relations(relations)
        docs = {}
        for name, path in (("distant", distant), ("train", train), ("dev", dev)):
            docs[name], rejected = load_documents(path, inventory) if path else ([], [])
            report_rejects(base, path or "", rejected)
        run_self_train(
            teacher, encoder, inventory, docs["distant"], docs["train"], docs["dev"], directory, base, phases.distant, phases.finetune
        )
