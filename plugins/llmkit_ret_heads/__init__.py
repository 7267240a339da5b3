"""llmkit ret-heads: retrieval heads (Wu et al.) and RetMask preference pairs.

Only typer and llmkit are imported here; the commands import torch and transformers when they run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Retrieval heads: detect them (needle-in-a-haystack copy score), mask them into a checkpoint, "
    "and build RetMask DPO pairs (original model = chosen, masked twin = rejected).",
    no_args_is_help=True,
)



def _numbers(text: str, option: str, kind: type) -> list:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise llmkit.UsageError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise llmkit.UsageError(f"{option} is empty")
    return values


@app.command("detect")
@llmkit.option_set(llmkit.ModelOptions)
def detect(
    model: llmkit.ModelOptions,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Head records and the summary record (default: stdout).")] = None,
    haystack: Annotated[str | None, typer.Option(help="JSONL corpus whose texts make the haystack (default: a built-in essay).")] = None,
    haystack_field: Annotated[str, typer.Option(help="Field of --haystack holding the text.")] = "text",
    needles: Annotated[str | None, typer.Option(help="JSONL of {context, question, answer} needles (default: 10 built-in).")] = None,
    lengths: Annotated[str, typer.Option(help="Comma-separated prompt lengths in tokens.")] = "1000,2000,4000",
    depths: Annotated[str, typer.Option(help="Comma-separated needle depths, 0 (start) to 1 (end).")] = "0,0.25,0.5,0.75,1",
    threshold: Annotated[float, typer.Option(min=0.0, help="A head with score >= this is a retrieval head.")] = 0.1,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most answer tokens decoded per trial (stops at a newline or EOS).")] = 50,
    prompt: Annotated[Path | None, typer.Option(help="Replace the trial prompt with this file (placeholders {context}, {question}).")] = None,
    chat: Annotated[bool | None, typer.Option("--chat/--no-chat", help="Wrap the prompt in the chat template (default: when the tokenizer has one).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a layers x heads heatmap PNG to this folder.")] = None,
    rejects: Annotated[str | None, typer.Option(help="Write malformed needles here, each with a 'reject' field.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table and no summary on stderr.")] = False,
) -> None:
    """Score every attention head by how often it copies the needle's answer into the output.

    Writes one record per head {type: head, model, layer, head, kv_head, score, trials, retrieval}
    and a closing {type: summary, ...} record. Needle reject reasons: missing_field, answer_not_in_context.
    """
    from llmkit_ret_heads.detect import DetectConfig, DetectStep
    from llmkit_ret_heads.haystack import default_needles_path

    depth_values = _numbers(depths, "--depths", float)
    if any(not 0.0 <= d <= 1.0 for d in depth_values):
        raise llmkit.UsageError("--depths must lie between 0 and 1")
    length_values = _numbers(lengths, "--lengths", int)
    if any(n < 2 for n in length_values):
        raise llmkit.UsageError("--lengths must be at least 2 tokens")
    if plot is not None:
        llmkit.require("matplotlib", "plot", "--plot")
    config = DetectConfig(model=model, lengths=length_values, depths=depth_values, threshold=threshold, haystack=haystack,
                          haystack_field=haystack_field, prompt=prompt, chat=chat, max_tokens=max_tokens, show_table=not quiet)
    io = llmkit.WholeInputOptions(inputs=[needles or default_needles_path()], output=output, rejects=rejects, quiet=quiet)
    with llmkit.SideOutputs(io, inputs=[haystack] if haystack else ()) as side:
        llmkit.run_step(DetectStep(config, side.folder("--plot", plot, new=False)), io)


@app.command("summary")
@llmkit.whole_input_options
def summary(
    io: llmkit.WholeInputOptions,
    threshold: Annotated[float | None, typer.Option(min=0.0, help="Retrieval-head threshold (default: the one stored by detect, else 0.1).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a layers x heads heatmap PNG per model to this folder.")] = None,
) -> None:
    """Recompute the organisation figures of stored head records, several models side by side.

    One {type: summary, ...} record per model on stdout; the table on stderr. Reject reasons: missing_field,
    bad_threshold (a stored summary's threshold is not a number), duplicate (a head or a summary given twice).
    """
    from llmkit_ret_heads.summary import SummaryStep

    if plot is not None:
        llmkit.require("matplotlib", "plot", "--plot")  # now, not after the run
    with llmkit.SideOutputs(io) as side:
        llmkit.run_step(SummaryStep(threshold, side.folder("--plot", plot, new=False), show_table=not io.quiet), io)


@app.command("mask")
def mask(
    model: Annotated[str, typer.Option("--model", "-m", help="The model the heads were detected on.")],
    heads: Annotated[str, typer.Option(help="Head records written by detect.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Folder for the masked checkpoint (new or empty).")],
    threshold: Annotated[float | None, typer.Option(min=0.0, help="Mask every head with score >= this.")] = None,
    top_k: Annotated[int | None, typer.Option(help="Mask the K heads with the highest scores.")] = None,
    random_heads: Annotated[bool, typer.Option("--random", help="Control: mask as many heads drawn from the non-retrieval heads.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the --random draw.")] = 42,
    dtype: Annotated[str, typer.Option(help="dtype of the saved weights: auto (the checkpoint's own), float32, float16 or bfloat16.")] = "auto",
    trust_remote_code: Annotated[bool, typer.Option(help="Allow the model's own Python code to run.")] = False,
) -> None:
    """Write a checkpoint whose chosen heads are silenced (their output-projection weights zeroed),
    with masked_heads.json beside the weights; transformers and vLLM load it as an ordinary model."""
    from llmkit_ret_heads.mask import choose_heads, read_heads, write_masked

    llmkit.BackendOptions(dtype=dtype)
    with llmkit.SideOutputs(inputs=[heads]) as side:
        out = side.folder("-o/--output", output, new=True)
        assert out is not None
        scores = read_heads(heads)
        chosen = choose_heads(scores, threshold, top_k, random_heads, seed)
        if not chosen:
            raise llmkit.UsageError(f"no head has score >= {threshold}: nothing to mask")
        how = {"selection": "random" if random_heads else ("threshold" if threshold is not None else "top_k"),
               "threshold": threshold, "top_k": top_k, "seed": seed if random_heads else None}
        path = write_masked(model, heads, out, chosen, how, dtype, trust_remote_code, scores)
    typer.echo(f"masked {len(chosen)} heads into {path}", err=True)


@app.command("pairs")
@llmkit.io_options
@llmkit.backend_options
def pairs(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    masked: Annotated[str, typer.Option(help="The masked twin written by 'ret-heads mask' (gives the rejected answers).")],
    field: Annotated[str, typer.Option(help="Field holding the instruction.")] = "prompt",
    chat_format: Annotated[bool, typer.Option(help="Write TRL's conversational format (message lists) instead of strings.")] = False,
    drop_truncated: Annotated[bool, typer.Option(help="Reject a pair when either answer stopped at the token budget.")] = False,
    spill: Annotated[str | None, typer.Option(help="File for the original model's answers between the two passes (default: OUTPUT.chosen.jsonl).")] = None,
) -> None:
    """RetMask DPO pairs: chosen = --model's answer, rejected = --masked's, same sampling
    (temperature 0.6, top-p 1.0, 2048 tokens unless given). One model loaded at a time: pass 1
    answers with --model into --spill, pass 2 with --masked.

    Reject reasons: missing_field, field_exists, too_long, empty_prompt, no_answer, empty_answer, truncated, identical.
    """
    from llmkit_ret_heads.pairs import PairsConfig, run_pairs

    backend_options.check_model()  # before run_pairs prepares its files
    run_pairs(io, backend_options, masked, PairsConfig(field=field, chat_format=chat_format, drop_truncated=drop_truncated), spill)
