#!/usr/bin/env bash
# Add up one day's run reports of the nightly job (every shard, every re-run) into one report,
# and print it: what the job took in, wrote, rejected and why, and how long it took.
# llmkit refuses (exit 2, with the reason) reports that are not of one job: a changed option,
# model or prompt between two runs of the night shows up here instead of in the dataset.
#
#   merge_reports.sh OUTPUT_DIR [DAY]      (DAY: YYYY-MM-DD, default today, UTC)
#   crontab:  0 8 * * *  /opt/llmkit/examples/cron/merge_reports.sh /data/code/filtered >> /var/log/llmkit-merge.log 2>&1
set -euo pipefail
out_dir="${1:?usage: $0 OUTPUT_DIR [DAY]}"
day="${2:-$(date -u +%Y-%m-%d)}"
llmkit="${LLMKIT:-/opt/llmkit/.venv/bin/llmkit}"
reports=("$out_dir/reports/$day"/*.json)
[ -e "${reports[0]}" ] || { echo "no report for $day in $out_dir/reports"; exit 0; }

"$llmkit" report merge "${reports[@]}" -o "$out_dir/reports/$day.json"
"$llmkit" report show "$out_dir/reports/$day.json"
