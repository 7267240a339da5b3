#!/usr/bin/env bash
# Ability factors of a small (made-up) leaderboard: 12 models, 8 benchmarks, one missing score.
# Writes the analysis as JSONL and the figures (scree, loadings, biplot, correlation, regression)
# into ability_pca_figures/; tables of explained variance and loadings go to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-ability_pca_figures}"
mkdir -p "$out"
llmkit ability-pca -i "$here/ability_pca_scores.jsonl" \
  --missing mean --rotation varimax --components 3 \
  --regress-on compute_zflops --log \
  --plot "$out" -o "$out/ability_pca.jsonl"
# the Japanese-factor models, by their rotated scores:
#   jq -c 'select(.type == "model") | {model, rotated_scores}' "$out/ability_pca.jsonl"
