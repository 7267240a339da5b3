#!/usr/bin/env bash
# neuron-attr end to end on two synthetic tasks and a tiny random model (made with
# `llmkit tiny-model`): score -> ablate -> overlap -> cross-ablate -> layers. A random model's
# neurons mean nothing; the run shows the files each step writes and reads. About a minute on a CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
llmkit tiny-model "$work/model" --layers 4 > /dev/null
python "$here/make_tasks.py" "$work"
cat "$work/copy.jsonl" "$work/count.jsonl" > "$work/tasks.jsonl"

# 1. the 50 best act-grad neurons of each task (one model load, both tasks)
llmkit neuron-attr score -m "$work/model" -i "$work/tasks.jsonl" --top-k 50 --scores "$work/scores.safetensors" -o "$work/neurons.jsonl"
# 2. copy's top 10 and 50 neurons against 3 random draws each, on both tasks
llmkit neuron-attr ablate -m "$work/model" --neurons "$work/neurons.jsonl" --neuron-task copy -i "$work/tasks.jsonl" \
    --k-grid 10,50 --seeds 3 -o "$work/ablate.jsonl"
# 3. how much the two sets share; the shared and the task-specific neurons as neuron records
llmkit neuron-attr overlap -i "$work/neurons.jsonl" --shared "$work/shared.jsonl" --specific "$work/specific.jsonl" -o "$work/overlap.jsonl"
# 4. each task's neurons (shared ones left out) suppressed, every task evaluated, beside random draws
llmkit neuron-attr cross-ablate -m "$work/model" --neurons "$work/neurons.jsonl" -i "$work/tasks.jsonl" --exclude-shared \
    --seeds 3 --plot "$work/plots" -o "$work/cross.jsonl"
# 5. where the neurons sit, over normalised depth
llmkit neuron-attr layers -i "$work/neurons.jsonl" --bins 4 --plot "$work/plots" -o "$work/layers.jsonl"

grep '"summary"' "$work/ablate.jsonl"
echo "results in $work (plots in $work/plots)" >&2
