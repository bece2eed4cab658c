#!/usr/bin/env bash
# The main job on sample_data/, with a throwaway PIIZONE_HOME under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIIZONE_HOME="$PWD/.demo/home"
PIIZONE=.venv/bin/piizone
mkdir -p .demo
echo "== piizone scan sample_data  (PII report per source and column)"
"$PIIZONE" scan sample_data
"$PIIZONE" scan sample_data --format html -o .demo/scan.html
"$PIIZONE" scan sample_data --format json -o .demo/scan.json
echo
echo "Reports written: .demo/scan.html (open in a browser), .demo/scan.json"
