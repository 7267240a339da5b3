#!/usr/bin/env bash
# utf8-eval end to end on a tiny byte-level model (random weights: expect low validity).
# Run from the repository root: bash examples/utf8/utf8_pipeline.sh
set -euo pipefail
work=$(mktemp -d)
here=examples/utf8

# 1. the validator on stored generations (hex bytes)
llmkit utf8-eval check -i "$here/utf8_generations.jsonl" --encoding hex -o "$work/checked.jsonl"

# 2. character tiers of a corpus, plus unseen CJK ideographs, at most 3 characters per tier
llmkit utf8-eval char-tiers -i "$here/utf8_corpus.jsonl" --quantiles 0.3,0.7 \
    --candidates U+4E00-U+9FFF --per-tier 3 -o "$work/chars.jsonl"

# 3. a byte-level model, the two measurements, and the summary
model=$(llmkit tiny-model --arch byte "$work/model")
llmkit utf8-eval generate --backend hf -m "$model" -i "$work/chars.jsonl" --steps 5 -o "$work/generated.jsonl"
llmkit utf8-eval next-byte -m "$model" -i "$work/chars.jsonl" -o "$work/next_byte.jsonl"
cat "$work/generated.jsonl" "$work/next_byte.jsonl" | llmkit utf8-eval summary -o "$work/summary.jsonl"
echo "results in $work" >&2
