#!/usr/bin/env bash
# Three subcommands chained by pipes, as a data pipeline would run them: generate instruction-
# tuning responses with CoDIT, keep their UTF-8 check beside them, then score each response for
# membership in the model's training data (a contamination check of the new data).
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
  | llmkit utf8-eval check --field response --encoding text \
  | llmkit mia score --backend hf --model "$expert" --field response --methods loss,mink,zlib \
      --rejects "$work/rejects-mia.jsonl" -o "$work/responses.jsonl"

# every record carries the fields of all three steps
python - "$work/responses.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    print(record["id"], "| valid UTF-8:", record["utf8"]["valid"], "| mia:", {k: round(v, 3) for k, v in record["mia"].items()})
PY
echo "results in $work" >&2
