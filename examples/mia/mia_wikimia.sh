#!/usr/bin/env bash
# Membership inference end to end on a tiny random model (its scores are noise: AUC near 0.5).
# With a real model, point --model at it and use WikiMIA (input + label) as the input.
#   examples/mia/mia_wikimia.sh [workdir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-mia_example}"
mkdir -p "$work"
model="$(llmkit tiny-model "$work/tiny")"
# every method: samia needs only sampled text; the others need log-probs (hf gives them all)
llmkit mia score -i "$here/mia_texts.jsonl" --backend hf --model "$model" \
  --methods samia,samia-zlib,loss,zlib,mink,minkpp --num-samples 10 --seed 0 --keep-samples \
  -o "$work/scored.jsonl"
# per method: AUC, TPR at 1% and 5% FPR, best accuracy (table on stderr, JSONL on stdout)
llmkit mia eval -i "$work/scored.jsonl" --label-field label > "$work/metrics.jsonl"
# against an OpenAI-compatible server (samia only needs sampled text):
#   llmkit mia score -i texts.jsonl --backend openai --base-url http://127.0.0.1:8000/v1 --methods samia
