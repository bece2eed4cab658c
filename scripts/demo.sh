#!/usr/bin/env bash
# The main job on sample_data/, in a throwaway PIIZONE_HOME (reset on every run); reports in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Outside the checkout: the sandbox shares the current directory read-only with the session and
# refuses to when it holds $PIIZONE_HOME (keys must never be visible inside).
export PIIZONE_HOME="${TMPDIR:-/tmp}/piizone-demo-home"
PIIZONE=.venv/bin/piizone
rm -rf .demo "$PIIZONE_HOME" && mkdir -p .demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "piizone scan sample_data   (what PII is where: per source and per column)"
"$PIIZONE" scan sample_data
"$PIIZONE" scan sample_data --format html -o .demo/scan.html
"$PIIZONE" scan sample_data --format json -o .demo/scan.json
"$PIIZONE" scan sample_data --format sarif -o .demo/scan.sarif

step "piizone redact sample_data/call_transcripts/call_006.txt   (an ASR transcript, redacted)"
"$PIIZONE" redact sample_data/call_transcripts/call_006.txt -o .demo/call_006.redacted.txt
head -n 16 .demo/call_006.redacted.txt

step "piizone init   (keys, config and the audit log in $PIIZONE_HOME)"
"$PIIZONE" init

step "piizone zone create churn --from sample_data   (scan, redact, encrypt, publish)"
"$PIIZONE" zone create churn --from sample_data --purpose "churn model training" --ttl 30d

step "piizone zone show churn"
"$PIIZONE" zone show churn

step "piizone zone verify churn   (decrypt every file, check it against the manifest)"
"$PIIZONE" zone verify churn

step "piizone sandbox run churn --work examples -- python train_churn.py   (no network, data in memory)"
# --work examples, not the repo root: sample_data/ holds the raw sources, and a shared dir that
# holds the zone's original values is refused.
"$PIIZONE" sandbox run churn --work examples --out .demo/results -- python train_churn.py
echo "released: $(ls .demo/results)"; cat .demo/results/metrics.json

step "piizone audit log / audit verify   (who did what, tamper-evident)"
"$PIIZONE" audit log
"$PIIZONE" audit verify

echo
echo "Reports: .demo/scan.html (open in a browser), .demo/scan.json, .demo/scan.sarif (SARIF 2.1.0), .demo/results/metrics.json"
echo "Demo home (keys, zone, audit log): $PIIZONE_HOME"
