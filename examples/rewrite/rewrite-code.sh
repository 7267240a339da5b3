#!/usr/bin/env bash
# SwallowCode as two jobs joined by files: the CPU stages on a CPU node, the LLM stages on a GPU node.
set -euo pipefail
here=$(dirname "$0")
# 1) syntax + pylint filter (no model): 'c' fails the lint threshold, 'b' the syntax check, 'd' has no text
llmkit rewrite-code --stages syntax,lint -i "$here/snippets.jsonl" -o /tmp/filtered.jsonl --rejects /tmp/rejects-cpu.jsonl
# 2) SGCR + SCOR with a model (vLLM on a GPU; --backend hf works on a CPU, slowly)
if [ -n "${MODEL:-}" ]; then
  llmkit rewrite-code --stages sgcr,scor --model "$MODEL" --keep-original --require-self-contained \
    -i /tmp/filtered.jsonl -o /tmp/rewritten.jsonl --rejects /tmp/rejects-llm.jsonl
fi
