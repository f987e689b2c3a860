#!/usr/bin/env bash
# What one round of the terminal UI's Traces screen asks of the agent (docs/performance.md):
# `pktvisord --nft-trace --netns B` in A, the trace tests' ruleset in B, 4 000 flood pings
# from A (10 000+ records), then the size and time of the screen's requests, five times
# each: the page of 200 (shown), the probe of 1 (not shown), a filter, the rulesets.
# Needs root, nft, curl and a release build. Usage: scripts/tui_trace_round.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/netns_lab.sh
agent=""; data=$(mktemp -d /tmp/pvtest-tuimeasure-XXXXXX)
cleanup() { [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true; lab_down; rm -rf "$data"; }
trap cleanup EXIT
lab_up tuim --mtu 1500 --addresses
a=$LAB_A; b=$LAB_B; port=10997
ip netns exec "$a" "${CARGO_TARGET_DIR:-target}/release/pktvisord" --nft-trace --netns "$b" --data-dir "$data" -l 127.0.0.1 -p $port >/dev/null 2>&1 &
agent=$!
url="http://127.0.0.1:$port/api/v1"
until ip netns exec "$a" curl -sf "$url/nft/ruleset" >/dev/null; do sleep 0.2; done
ip netns exec "$b" nft -f testdata/nftrace/ruleset.nft
ip netns exec "$a" ping -q -f -c 4000 198.51.100.2 >/dev/null
sleep 2
echo "records: $(ip netns exec "$a" curl -s "$url/traces?limit=10000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["traces"]))')"
for path in "traces?limit=200" "traces?limit=1" "traces?limit=200&q=dport%20%3D%3D%207" "nft/ruleset"; do
  for i in 1 2 3 4 5; do
    ip netns exec "$a" curl -s -o /dev/null -w "$path %{size_download} B %{time_total} s\n" "$url/$path"
  done
done
