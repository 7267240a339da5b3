#!/usr/bin/env bash
# The LMSYS-Chat-1M-Synth recipe as one pipe, on tiny models: the first user turn of each
# conversation, flagged (duplicate, empty, redacted, template) and deduplicated; three responses
# per instruction; each scored 0-10 by a judge; the best kept as an SFT record.
# A random tiny model stands in for the responding model (its text is noise), and a tiny judge
# with its answer written into its weights ("Fine. Score: 7") stands in for the judge.
#
#   bash examples/instruct_data/pipeline.sh            (after `bash scripts/install.sh`, with .venv active)
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${WORK:-$(mktemp -d)}"
model=$(llmkit tiny-model --seed 0 "$work/model")
judge=$(python examples/instruct_data/scripted_judge.py "$model" "$work/judge" "Fine. Score: 7" 2>/dev/null)

llmkit instruct-data prepare -i examples/instruct_data/conversations.jsonl --id-field conversation_id \
      --rejects "$work/rejects-prepare.jsonl" \
  | llmkit contrastive-gen --backend hf --expert "$model" --n 3 --max-tokens 16 --seed 0 \
      --system "Answer in the user's language." --rejects "$work/rejects-gen.jsonl" \
  | llmkit instruct-data judge --backend hf --model "$judge" --max-tokens 16 --rejects "$work/rejects-judge.jsonl" \
  | tee "$work/judged.jsonl" \
  | llmkit instruct-data select --min-score 7 --id-field conversation_id --rejects "$work/rejects-select.jsonl" \
      -o "$work/sft.jsonl"

python - "$work" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
rows = lambda name: [json.loads(line) for line in (work / name).read_text().splitlines() if line.strip()]
for reject in rows("rejects-prepare.jsonl"):
    print("prepare rejected", reject["conversation_id"], "->", reject["reject"]["reason"], "|", reject["reject"].get("detail", ""))
for record in rows("judged.jsonl"):
    print("judged", record["conversation_id"], "scores", record["preference_score"], "tokens", record["response_token_length"])
for record in rows("sft.jsonl"):
    print("sft", record["conversation_id"], json.dumps(record["messages"], ensure_ascii=False)[:100])
PY
echo "results in $work" >&2
