#!/usr/bin/env bash
# make demo: bring the embedded stack up, check every part with real requests, print the
# URLs and where the results are, and tear down unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-vllm}"; keep="${2:-0}"
slakit=.venv/bin/slakit
start=$(date +%s)
down() { [ "$keep" = 1 ] || $slakit stack down >/dev/null; }
trap down EXIT
$slakit stack up --engine "$engine"
mkdir -p reports/demo
$slakit stack check | tee reports/demo/stack-check.txt
$slakit stack status
echo
echo "demo took $(( $(date +%s) - start )) s"
echo "results: $(pwd)/reports/demo/stack-check.txt"
echo "logs:    $(pwd)/.slakit/stack/logs/"
if [ "$keep" = 1 ]; then echo "stack left running: .venv/bin/slakit stack down to stop it"; fi
