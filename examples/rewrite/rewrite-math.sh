#!/usr/bin/env bash
# SwallowMath: rewrite web math pages into self-contained worked solutions (needs MODEL).
set -euo pipefail
llmkit rewrite-math --model "${MODEL:?set MODEL to a model path or hub name}" --keep-original \
  -i "$(dirname "$0")/math.jsonl" -o /tmp/math-rewritten.jsonl --rejects /tmp/math-rejects.jsonl
