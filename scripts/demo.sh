#!/usr/bin/env bash
# make demo: bring the embedded stack up (real Elasticsearch, real vLLM on CPU, gateway,
# Prometheus, Alertmanager), check every part with a real request, run the smoke
# scenario, print the URLs and where the report is, and tear down unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-vllm}"; keep="${2:-0}"
slakit=.venv/bin/slakit
start=$(date +%s)
down() { if [ "$keep" != 1 ]; then $slakit stack down >/dev/null || true; fi; }
trap down EXIT
$slakit stack up --engine "$engine"
$slakit stack check
set +e
$slakit run scenario scenarios/smoke.yaml --out reports
gate=$?
set -e
run_dir=$(ls -td reports/*-smoke/ | head -1)
echo
$slakit stack status
echo
echo "demo took $(( $(date +%s) - start )) s; the smoke scenario's gate said exit $gate"
echo "report: $(pwd)/${run_dir}report.html"
echo "        (also summary.md, junit.xml, report.json in the same directory)"
if [ "$keep" = 1 ]; then echo "stack left running; stop it with: .venv/bin/slakit stack down"; fi
exit $gate
