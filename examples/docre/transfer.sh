#!/usr/bin/env bash
# The JacRED workflow end to end on a tiny random model: transfer -> recommend -> edit-steps.
# The tiny model writes noise, so transfer rejects what it cannot place (mention_lost or
# truncated: nothing is guessed); the recommendations then run on the source documents.
# With a real model: --model <instruct LLM> for transfer, DOCRE_MODEL=<dir from docre train>.
#   examples/docre/transfer.sh [workdir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-docre_example}"
mkdir -p "$work"
# a few Re-DocRED dev documents when the shared data folder is there, with the relations of the
# test split's documents as the knowledge base (distant supervision from other documents);
# else the two shipped documents and a small hand-written knowledge base
shared="$here/../../../shared/data/docre"
if [ -f "$shared/redocred_dev.json" ]; then
  python -c 'import json,sys; [print(json.dumps(d)) for d in json.load(open(sys.argv[1]))[:3]]' "$shared/redocred_dev.json" > "$work/documents.jsonl"
  kb="$shared/redocred_test.json"
else
  cp "$here/documents.jsonl" "$work/documents.jsonl"
  kb="$here/kb.jsonl"
fi
model="$(llmkit tiny-model "$work/tiny")"

# 1. transfer into Japanese: every sentence of the batch in one backend call, one retry per unit
llmkit docre transfer -i "$work/documents.jsonl" -o "$work/ja.jsonl" --rejects "$work/ja_rejects.jsonl" \
  --target-lang ja --model "$model" --backend hf --max-tokens 24 --retries 1
echo "transfer rejects by reason:" >&2
python -c 'import json,sys,collections; print(dict(collections.Counter(json.loads(l)["reject"]["reason"] for l in open(sys.argv[1]))))' "$work/ja_rejects.jsonl" >&2

# 2. recommendations: the knowledge base's (the previous approach), and a docre model's if given
llmkit docre recommend -i "$work/documents.jsonl" -o "$work/kb.jsonl" --source distant --kb "$kb"
inputs=(-i "$work/kb.jsonl")
if [ -n "${DOCRE_MODEL:-}" ]; then
  llmkit docre recommend -i "$work/documents.jsonl" -o "$work/model.jsonl" --model "$DOCRE_MODEL" --top-k 4
  inputs+=(-i "$work/model.jsonl")
fi

# 3. edit steps against the annotation (here the documents' own labels), side by side
llmkit docre edit-steps "${inputs[@]}" --gold "$work/documents.jsonl" --evidence -o "$work/edit_steps.jsonl"
tail -n 1 "$work/edit_steps.jsonl"
