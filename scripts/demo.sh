#!/usr/bin/env bash
# The main job on sample_data/, in a throwaway PIIZONE_HOME (reset on every run); reports in .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Outside the checkout: the sandbox shares the current directory read-only with the session and
# refuses to when it holds $PIIZONE_HOME (keys must never be visible inside).
export PIIZONE_HOME="${TMPDIR:-/tmp}/piizone-demo-home"
PIIZONE="${PIIZONE:-.venv/bin/piizone}"
PYTHON="${PYTHON:-.venv/bin/python}"
rm -rf .demo "$PIIZONE_HOME" && mkdir -p .demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "piizone scan sample_data   (what PII is where: per source and per column)"
"$PIIZONE" scan sample_data
"$PIIZONE" scan sample_data --format html -o .demo/scan.html
# The JSON report, and the policy lines it proposes per column written as a policy to edit.
"$PIIZONE" scan sample_data --format json --suggest-policy -o .demo/policy.suggested.yaml \
  > .demo/scan.json
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

step "a join survives pseudonymisation   (support tickets x customers by the email token, in the sandbox)"
# Identifier columns are pseudonymized (identifier_columns: pseudonymize, the key from init):
# the same email is the same token in both files, so the join counts what the raw join counts.
raw_join=$("$PYTHON" -c '
import pandas as pd
c = pd.read_csv("sample_data/customers.csv")
t = pd.read_json("sample_data/support_tickets.jsonl", lines=True)
print(len(t.merge(c, left_on="customer_email", right_on="email")))')
"$PIIZONE" sandbox run churn --work examples --out .demo/join -- \
  python join_tables.py customers.csv:email support_tickets.jsonl:customer_email
zone_join=$("$PYTHON" -c 'import json; print(json.load(open(".demo/join/join.json"))["joined_rows"])')
echo "raw join on sample_data: $raw_join rows; pseudonymised join in the zone: $zone_join rows"
if [ "$raw_join" != "$zone_join" ]; then echo "the pseudonymised join lost rows" >&2; exit 1; fi

step "piizone audit log / audit verify   (who did what, tamper-evident)"
"$PIIZONE" audit log
"$PIIZONE" audit verify

echo
echo "Reports: .demo/scan.html (open in a browser), .demo/scan.json, .demo/results/metrics.json"
echo "SARIF 2.1.0 (for code-scanning UIs): .demo/scan.sarif"
echo "Suggested policy (scan --suggest-policy): .demo/policy.suggested.yaml"
echo "Demo home (keys, zone, audit log): $PIIZONE_HOME"
