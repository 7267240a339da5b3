#!/usr/bin/env bash
# Nightly job: filter the snippets that arrived today through the CPU stages of rewrite-code.
# Safe to re-run at any time: --resume skips ids already written (or rejected), so a job killed
# by the scheduler, or started twice, completes the output with no duplicate and no gap.
# Several machines split the input with no coordination: SHARD=2/4 on the second of four.
# One output per shard, not per day: a file that is still in INPUT_DIR tomorrow is not filtered
# twice, and a run that crosses midnight finishes the file it started.
# cron's PATH does not hold the venv: LLMKIT names the command (default: the install.sh venv).
# Each run leaves a JSON report in OUTPUT_DIR/reports/DAY/ (counts, times, model, options, exit
# status); merge_reports.sh adds a day's reports of every shard into one.
#
#   crontab:  15 2 * * *  SHARD=1/1 /opt/llmkit/examples/cron/nightly_lint_filter.sh /data/in /data/out >> /var/log/llmkit.log 2>&1
set -euo pipefail
in_dir="${1:?usage: $0 INPUT_DIR OUTPUT_DIR}"
out_dir="${2:?usage: $0 INPUT_DIR OUTPUT_DIR}"
shard="${SHARD:-1/1}"
llmkit="${LLMKIT:-/opt/llmkit/.venv/bin/llmkit}"
part="${shard%/*}-of-${shard#*/}"
mkdir -p "$out_dir"

# one lock per shard, so an overlapping start waits instead of writing the same file twice
exec 9>"$out_dir/.lock-$part"
flock 9

inputs=()
for file in "$in_dir"/*.jsonl "$in_dir"/*.jsonl.gz; do
    [ -e "$file" ] && inputs+=(-i "$file")
done
[ ${#inputs[@]} -gt 0 ] || { echo "no input in $in_dir"; exit 0; }

# one report per run (this shard, this start), whatever its outcome: merge_reports.sh adds them up
reports="$out_dir/reports/$(date -u +%Y-%m-%d)"
mkdir -p "$reports"
"$llmkit" rewrite-code --stages syntax,lint \
    "${inputs[@]}" \
    --shard "$shard" --resume --id-field id \
    -o "$out_dir/kept-$part.jsonl" \
    --rejects "$out_dir/rejected-$part.jsonl" \
    --report "$reports/$(date -u +%H%M%S)-$part.json"
