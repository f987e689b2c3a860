#!/usr/bin/env bash
# Captures the hub JSON the terminal UI's hub tests read (testdata/tui/hub_*.json): a real
# `pktvisor hub` on 127.0.0.1 (SQLite in a temporary directory) into which two agents backfill
# two of pktvisor's fixture captures of the same minute (alpha: dns_ipv4_udp, beta:
# dns_ipv4_tcp), asked for /api/v1/agents, the global window/5 and beta's window/5.
# Needs curl and a release build (cargo build --release). Usage: scripts/tui_hub_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release"
out=testdata/tui
port=10998
tmp=$(mktemp -d /tmp/pvtest-tuihubfix-XXXXXX)
hub=""
cleanup() {
  [ -n "$hub" ] && kill "$hub" 2>/dev/null && wait "$hub" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
"$bin/pktvisor" hub --listen "127.0.0.1:$port" --store "sqlite:$tmp/hub.sqlite" 2>"$tmp/hub.log" &
hub=$!
api() { curl -sf -m 5 "http://127.0.0.1:$port/api/v1/$1"; }
until api agents >/dev/null; do sleep 0.2; done
"$bin/pktvisord" --hub "http://127.0.0.1:$port" --agent-id alpha testdata/fixtures/dns_ipv4_udp.pcap 2>/dev/null
"$bin/pktvisord" --hub "http://127.0.0.1:$port" --agent-id beta testdata/fixtures/dns_ipv4_tcp.pcap 2>/dev/null
api agents | python3 -m json.tool > "$out/hub_agents.json"
api metrics/window/5 | python3 -m json.tool > "$out/hub_window5_all.json"
api agents/beta/metrics/window/5 | python3 -m json.tool > "$out/hub_window5_beta.json"
echo "wrote $out/hub_{agents,window5_all,window5_beta}.json"
