#!/usr/bin/env bash
# Quick start: install llmkit into ./.venv, then run a real pipeline end to end on this machine
# (CPU is enough; nothing is downloaded but Python packages).
#
#   bash examples/quickstart.sh            # install, then run
#   SKIP_INSTALL=1 bash examples/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_INSTALL:-}" ] || bash scripts/install.sh cpu
. .venv/bin/activate
work="${WORK:-$(mktemp -d)}"
echo "== working in $work" >&2

# 1. A tiny random-weight model with a real tokenizer, built offline (stands in for a real LLM).
model=$(llmkit tiny-model "$work/model")

# 2. SwallowCode: syntax check and pylint filter on the CPU, piped into the LLM rewrite stages.
#    The tiny model writes noise, so its answers land in the rejects with their reasons: that is
#    the flow a real model goes through too (vLLM on a GPU node: drop --backend hf).
llmkit rewrite-code --stages syntax,lint -i examples/rewrite/snippets.jsonl --rejects "$work/rejected_cpu.jsonl" \
  | llmkit rewrite-code --stages sgcr,scor --model "$model" --backend hf --max-tokens 48 \
      --rejects "$work/rejected_llm.jsonl" -o "$work/rewritten.jsonl"
echo "== rejected by the CPU stages:" >&2
cut -c1-200 "$work/rejected_cpu.jsonl" >&2

# 3. Membership inference (SaMIA and the loss baseline) on a few texts, then its evaluation.
llmkit mia score -i examples/mia/mia_texts.jsonl --model "$model" --backend hf \
    --methods samia,loss --num-samples 4 --seed 0 -o "$work/mia_scores.jsonl"
llmkit mia eval -i "$work/mia_scores.jsonl" --label-field label > "$work/mia_eval.jsonl"

# 4. UTF-8 validity of stored byte-level generations.
llmkit utf8-eval check -i examples/utf8/utf8_generations.jsonl --encoding hex -o "$work/utf8.jsonl"
python - "$work/utf8.jsonl" <<'PY' >&2
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
valid = sum(row["utf8"]["valid"] for row in rows)
print(f"utf8: {valid} of {len(rows)} stored generations are valid UTF-8")
PY

# 5. Ability factors of a leaderboard: PCA, regression on compute, and the plots.
llmkit ability-pca -i examples/ability_pca/ability_pca_scores.jsonl --regress-on compute_zflops --log \
    --plot "$work/plots" -o "$work/factors.jsonl"

echo "== done: outputs and plots in $work" >&2
ls "$work" "$work/plots" >&2
