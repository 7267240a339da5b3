#!/usr/bin/env bash
# DREEAM end to end on the CPU in a few minutes: a synthetic templated corpus and a tiny random
# DeBERTa-v2 encoder (both built here, offline), train with the evidence loss, predict the dev set, score it with the
# official DocRED evaluation, then fuse (ISF).
#   examples/docre/dreeam_tiny.sh [workdir]
#
# With a real encoder on a GPU (published defaults: batch 4, lr 5e-5 / 1e-4, 30 epochs, seed 66):
#   jq -c '.[]' dev_revised.json > dev.jsonl; jq -c '.[]' test_revised.json > test.jsonl
#   # Re-DocRED ships no rel2id: build one from the training labels (Na first)
#   python -c 'import json,sys; r=sorted({l["r"] for d in json.load(open(sys.argv[1])) for l in d["labels"]}); json.dump({"Na":0,**{x:i+1 for i,x in enumerate(r)}},open("rel2id.json","w"))' train_revised.json
#   llmkit docre train --encoder roberta-large --lr 3e-5 --train train_revised.json --dev dev_revised.json \
#     --relations rel2id.json -o redocred_model/ --evi-lambda 0.05      # DREEAM issue #11 uses 0.05 on Re-DocRED
#   llmkit docre predict --model redocred_model/ -i test.jsonl -o test_pred.jsonl
#   llmkit docre evaluate -i test_pred.jsonl --gold test_revised.json --train train_revised.json
# JacRED (35 relations; its rel2id.json is in the JacRED repository, meta/):
#   llmkit docre train --encoder cl-tohoku/bert-base-japanese-v3 --train jacred_train.json --dev jacred_dev.json \
#     --relations jacred_rel2id.json -o jacred_model/
#   (the Japanese BERT's tokenizer needs fugashi and unidic-lite; JacRED's tokens are already words)
set -euo pipefail
work="${1:-docre_tiny}"
mkdir -p "$work"
python -c 'import sys; from llmkit_docre.synthetic import write_corpus; write_corpus(sys.argv[1], train=96, dev=40, seed=0)' \
  "$work/data"
# a tiny random DeBERTa-v2 (relative positions) whose vocabulary is the corpus's words
llmkit tiny-model "$work/encoder" --arch deberta --hidden-size 32 --layers 3 --heads 4 --dropout 0 --max-position 512 \
  --words-from "$work/data/train.jsonl" --words-from "$work/data/dev.jsonl" > /dev/null
rm -rf "$work/model" "$work"/*.jsonl
llmkit docre train --encoder "$work/encoder" --train "$work/data/train.jsonl" --dev "$work/data/dev.jsonl" \
  --relations "$work/data/rel2id.json" -o "$work/model" \
  --emb-size 64 --block-size 16 --lr 2e-3 --added-lr 2e-3 --epochs 8
llmkit docre predict --model "$work/model" -i "$work/data/dev.jsonl" -o "$work/dev_pred.jsonl"
llmkit docre evaluate -i "$work/dev_pred.jsonl" --gold "$work/data/dev.jsonl" --relations "$work/data/rel2id.json" \
  -o "$work/scores.jsonl"
llmkit docre isf-tune --model "$work/model" --dev "$work/data/dev.jsonl"
llmkit docre predict --model "$work/model" --isf -i "$work/data/dev.jsonl" -o "$work/dev_isf.jsonl"
llmkit docre evaluate -i "$work/dev_isf.jsonl" --gold "$work/data/dev.jsonl" -o "$work/scores_isf.jsonl"
