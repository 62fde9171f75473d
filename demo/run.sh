#!/usr/bin/env bash
# Loads the demo dataset into a running repatd with repatctl, then prints
# the delay statistics and draws them to demo/delays.svg. It starts nothing
# itself: start the server first, e.g.
#
#   cargo run -p repatd -- --allow-unauthenticated
#
# The server is REPATCTL_SERVER (default http://127.0.0.1:50051); parties
# are created by an administrator, so an unauthenticated local server (every
# caller is the administrator) or REPATCTL_TOKEN with an admin token.
# repatctl is REPATCTL if set, else built and run with cargo. Safe to run
# again: every row's request id is derived from the row, so nothing is
# added twice.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ -n "${REPATCTL:-}" ]; then
  ctl() { "$REPATCTL" "$@"; }
else
  cargo build -q -p repatctl --manifest-path "$here/../Cargo.toml"
  bin="$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$here/../Cargo.toml" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/repatctl"
  ctl() { "$bin" "$@"; }
fi

ctl parties import parties.csv
ctl earnings import earnings.csv --party-ids parties.csv.ids.csv
ctl repatriations import repatriations.csv --party-ids parties.csv.ids.csv
ctl steps import steps.csv --repatriation-ids repatriations.csv.ids.csv
ctl claims import claims.csv --repatriation-ids repatriations.csv.ids.csv
ctl metrics delays --plot delays.svg
