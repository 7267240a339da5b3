#!/usr/bin/env bash
# RetMask end to end on a tiny random model: detect retrieval heads, mask them into a twin
# checkpoint, and build DPO pairs (original = chosen, masked = rejected). A random model retrieves
# nothing, so most trials fail the recall filter and the scores are zeros: the commands, files and
# formats are what this shows. With a real model (e.g. Llama-3.1-8B-Instruct on a GPU), drop the
# small --lengths and --max-tokens and point --model at it.
#   examples/ret_heads/retmask_tiny.sh [workdir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-ret_heads_example}"
mkdir -p "$work"
model="$(llmkit tiny-model "$work/tiny")"

# 1. detect: 10 built-in needles x 2 lengths x 2 depths; head records + a summary record
llmkit ret-heads detect --model "$model" --lengths 200,400 --depths 0,1 --max-tokens 12 \
  -o "$work/heads.jsonl" --plot "$work/plots"
# the organisation figures again, from the stored records (several -i: models side by side)
llmkit ret-heads summary -i "$work/heads.jsonl" > "$work/summary.jsonl"

# 2. mask: the 2 best heads (or --threshold 0.1), and the control: as many non-retrieval heads
llmkit ret-heads mask --model "$model" --heads "$work/heads.jsonl" --top-k 2 -o "$work/masked"
llmkit ret-heads mask --model "$model" --heads "$work/heads.jsonl" --top-k 2 --random --seed 42 -o "$work/masked_random"
cat "$work/masked/masked_heads.json"

# 3. pairs: one answer from each model, same sampling (RetMask: temperature 0.6, top-p 1.0)
llmkit ret-heads pairs --backend hf --model "$model" --masked "$work/masked" \
  -i "$here/instructions.jsonl" --max-tokens 32 --seed 0 \
  -o "$work/pairs.jsonl" --rejects "$work/rejects.jsonl"

# 4. DPO with TRL (not a dependency of llmkit): see dpo_command.txt
