#!/usr/bin/env bash
# contrastive-gen end to end on two tiny random models that share a tokenizer (expect gibberish:
# the point is the pipeline). With real models, the expert is a post-trained model and the
# amateur its pre-trained base, e.g. --expert Qwen/Qwen2.5-7B-Instruct --amateur Qwen/Qwen2.5-7B.
# Run from the repository root: bash examples/contrastive/contrastive_pipeline.sh
set -euo pipefail
work=$(mktemp -d)
here=examples/contrastive
expert=$(llmkit tiny-model --seed 0 "$work/expert")
amateur=$(llmkit tiny-model --seed 1 "$work/amateur")
backend=${BACKEND:-hf}   # BACKEND=vllm runs the one-engine vLLM pair

# 1. CoDIT: difference of log-probs, sampled at CoDIT's defaults (beta 1, alpha 0.01, T 1, top-p 1)
llmkit contrastive-gen --backend "$backend" --expert "$expert" --amateur "$amateur" --seed 0 \
    --max-tokens 32 -i "$here/contrastive_instructions.jsonl" -o "$work/codit.jsonl"

# 2. O'Brien and Lewis's formula, greedy, ending at a full stop or a blank line
llmkit contrastive-gen --backend "$backend" --expert "$expert" --amateur "$amateur" --formula obrien \
    --beta 0.5 --alpha 0.1 --temperature 0 --stop "." --stop $'\n\n' --max-tokens 32 \
    -i "$here/contrastive_instructions.jsonl" -o "$work/obrien.jsonl"

# 3. the direct-generation baseline: the expert alone, three samples per instruction
llmkit contrastive-gen --backend "$backend" --expert "$expert" --n 3 --max-tokens 32 \
    -i "$here/contrastive_instructions.jsonl" -o "$work/plain.jsonl"

# keep the responses that did not degenerate into repetition
python -c 'import json,sys; [print(l, end="") for l in open(sys.argv[1]) if not json.loads(l)["repetition"]]' \
    "$work/codit.jsonl" > "$work/codit.clean.jsonl"
echo "results in $work" >&2
