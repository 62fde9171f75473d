#!/usr/bin/env bash
# Loads the demo dataset into a running repatd with repatctl, reconciles
# the first firm's bank statement, prints the delay statistics and draws
# them. It starts nothing itself: start the server first, e.g.
#
#   cargo run -p repatd -- --allow-unauthenticated
#
# Usage: demo/run.sh [OUT_DIR]
#
# What it writes (the ids and errors files beside copies of the inputs, and
# delays.svg) goes to OUT_DIR, by default target/demo of this checkout; the
# demo/ directory itself is only read. The server is REPATCTL_SERVER
# (default http://127.0.0.1:50051); parties are created by an
# administrator, so an unauthenticated local server (every caller is the
# administrator) or REPATCTL_TOKEN with an admin token. repatctl is
# REPATCTL if set, else built and run with cargo. Safe to run again: every
# row's request id is derived from the row, so nothing is added twice.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../target/demo}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [ -n "${REPATCTL:-}" ]; then
  ctl() { "$REPATCTL" "$@"; }
else
  cargo build -q -p repatctl --manifest-path "$here/../Cargo.toml"
  target="$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$here/../Cargo.toml" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  ctl() { "$target/debug/repatctl" "$@"; }
fi
for f in parties earnings repatriations steps documents claims; do
  cp "$here/$f.csv" "$out/$f.csv"
done
cd "$out"

ctl parties import parties.csv
ctl earnings import earnings.csv --party-ids parties.csv.ids.csv
ctl repatriations import repatriations.csv --party-ids parties.csv.ids.csv
ctl steps import steps.csv --repatriation-ids repatriations.csv.ids.csv
# The papers the claims rest on: contracts, invoices, marketplace
# statements, the PRCs the banks reported no step for.
ctl documents import documents.csv --party-ids parties.csv.ids.csv --repatriation-ids repatriations.csv.ids.csv
ctl claims import claims.csv --repatriation-ids repatriations.csv.ids.csv
# The first firm's statement from its bank, then the matching (skipped
# when statement.csv is left out of the dataset).
if [ -f "$here/statement.csv" ]; then
  cp "$here/statement.csv" "$out/statement.csv"
  firm="$(awk -F, '$1 == "firm-001" { print $2 }' parties.csv.ids.csv)"
  ctl statements import statement.csv --party "$firm"
  ctl reconcile run --party "$firm"
  ctl reconcile exceptions --party "$firm"
fi
ctl metrics delays --plot delays.svg
echo "outputs in $out"
