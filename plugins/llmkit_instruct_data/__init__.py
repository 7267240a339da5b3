"""instruct-data: instruction-tuning data from human-written instructions (LMSYS-Chat-1M-Synth's
recipe): prepare the instructions, judge the responses 0-10, select the best per instruction.

Only typer and llmkit are imported here; the steps import what they need when they run.
"""

# no `from __future__ import annotations`: Typer reads the option metadata from live annotations
from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Instruction-tuning data from human-written instructions: prepare (first user turn, dedup, "
    "flags), judge (LLM-as-judge 0-10 scores), select (best response per instruction, SFT or DPO).",
    no_args_is_help=True,
)


@app.command("prepare")
@llmkit.io_options
def prepare(
    io: llmkit.IOOptions,
    field: Annotated[
        str, typer.Option(help="Field holding the instruction when a record has no conversation/messages list.")
    ] = "instruction",
    keep_flagged: Annotated[bool, typer.Option(help="Write flagged records to the output too (with their flags).")] = False,
    near_duplicates: Annotated[
        float | None,
        typer.Option(metavar="JACCARD", help="Also flag near-duplicates: MinHash LSH at this Jaccard threshold (e.g. 0.8)."),
    ] = None,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations (--near-duplicates).")] = 128,
    template_words: Annotated[int, typer.Option(help="Words of the shared opening that groups template instructions.")] = 8,
    template_min: Annotated[
        int, typer.Option(help="Distinct instructions a group needs before its members are flagged template; 0 = off.")
    ] = 20,
    redaction_pattern: Annotated[
        str, typer.Option(help="Regular expression of the dataset's redaction markers.")
    ] = r"\bNAME_\d+\b",
) -> None:
    """Take each record's first user turn as 'instruction' and add 'flags'.

    Flags: empty, duplicate_of (the first occurrence's id), near_duplicate_of (--near-duplicates),
    redacted, template. Flagged records go to --rejects with the flag as the reason (empty,
    duplicate, near_duplicate, redacted, template) unless --keep-flagged. Other reject reasons:
    missing_field, bad_messages, field_exists. Under --shard, duplicates are found within a shard.
    """
    from llmkit_instruct_data.prepare import (
        PrepareSettings,
        PrepareStep,
        check_settings,
    )

    settings = PrepareSettings(
        field=field,
        id_field=io.id_field,
        keep_flagged=keep_flagged,
        near_duplicates=near_duplicates,
        num_perm=num_perm,
        template_words=template_words,
        template_min=template_min,
        redaction=redaction_pattern,
        resume_from=tuple(p for p in (io.output, io.rejects) if p and p != "-") if io.resume else (),
    )
    check_settings(settings)
    llmkit.run_step(PrepareStep(settings), io)


@app.command("judge")
@llmkit.io_options
@llmkit.backend_options
def judge(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    n_judge: Annotated[int, typer.Option(help="Judge samples per response, averaged (> 1 samples at temperature 1).")] = 1,
    keep_judge_text: Annotated[bool, typer.Option(help="Write the judge's answers to 'judge_text'.")] = False,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer that counts response tokens (default: the judge's).")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Replace the judge prompt with this file (placeholders {instruction}, {response}).")
    ] = None,
    repetition_tokens: Annotated[
        int | None, typer.Option(help="Also flag repetition for responses longer than this many tokens.")
    ] = None,
    field: Annotated[str, typer.Option(help="Field holding the instruction (else the first user turn of messages).")] = "instruction",
) -> None:
    """Score each response (or each of 'responses') 0-10 with an LLM judge.

    Adds preference_score (-1: no score in the judge's final line), response_token_length and
    repetition_flag (lists with 'responses'). Reject reasons: missing_field, bad_messages,
    bad_responses, field_exists.
    """
    from llmkit_instruct_data.judge import JudgeSettings, JudgeStep, check_settings

    settings = JudgeSettings(field=field, n_judge=n_judge, keep_judge_text=keep_judge_text, tokenizer=tokenizer,
                             prompt_file=prompt, repetition_tokens=repetition_tokens)
    check_settings(settings, backend_options)
    llmkit.run_step(JudgeStep(settings, backend_options), io)


@app.command("select")
@llmkit.io_options
def select(
    io: llmkit.IOOptions,
    min_score: Annotated[float | None, typer.Option(help="Reject instructions whose best score is below this.")] = None,
    format: Annotated[
        str, typer.Option("--format", help="messages ({messages: [user, assistant]}) or plain ({instruction, response}).")
    ] = "messages",
    pairs: Annotated[bool, typer.Option(help="Write (best, worst) preference pairs in TRL's DPO form instead.")] = False,
    allow_repetition: Annotated[bool, typer.Option(help="Let a response flagged for repetition be chosen.")] = False,
    keep_fields: Annotated[
        bool, typer.Option(help="Carry every input field into the output (default: only the id field and the training fields).")
    ] = False,
    field: Annotated[str, typer.Option(help="Field holding the instruction (else the first user turn of messages).")] = "instruction",
) -> None:
    """Keep the best-scored response per instruction (ties: the shorter) as a training record.

    The output is the training file itself: each record holds only the id field (--id-field, when
    the input has it) and the training fields (messages, or instruction and response, or the DPO
    pair, with the scores); every other input field is dropped unless --keep-fields. Reads 'response' or 'responses' with 'preference_score' (instruct-data judge). Reject reasons:
    missing_field, bad_scores, no_scored_response, low_score, no_pair (--pairs), field_exists.
    """
    from llmkit_instruct_data.select import SelectSettings, SelectStep, check_settings

    settings = SelectSettings(format=format, pairs=pairs, min_score=min_score, allow_repetition=allow_repetition,
                              keep_fields=keep_fields, field=field, id_field=io.id_field)
    check_settings(settings)
    llmkit.run_step(SelectStep(settings), io)
