#!/usr/bin/env bash
# Subcommands chained by pipes, as a data pipeline would run them: generate instruction-tuning
# responses with CoDIT, then score each response for membership in the model's training data (a
# contamination check of the new data). (A UTF-8 check belongs on raw bytes: contrastive-gen
# writes decoded text, where an invalid byte is already U+FFFD; see examples/utf8/ instead.)
# Two tiny random models stand in for a post-trained model and its base, so the text is noise.
#
#   bash examples/pipeline.sh            (after `bash scripts/install.sh`, with .venv active)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${WORK:-$(mktemp -d)}"
expert=$(llmkit tiny-model --seed 0 "$work/expert")
amateur=$(llmkit tiny-model --seed 1 "$work/amateur")

llmkit contrastive-gen --backend hf --expert "$expert" --amateur "$amateur" --seed 0 --max-tokens 24 \
      -i examples/contrastive/contrastive_instructions.jsonl --rejects "$work/rejects-gen.jsonl" \
  | llmkit mia score --backend hf --model "$expert" --field response --methods loss,mink,zlib \
      --rejects "$work/rejects-mia.jsonl" -o "$work/responses.jsonl"

# every record carries the fields of both steps
python - "$work/responses.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    flags = "repetition" if record["repetition"] else "ok"
    print(record["id"], "|", flags, "| mia:", {k: round(v, 3) for k, v in record["mia"].items()})
PY
echo "results in $work" >&2
