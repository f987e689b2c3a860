#!/usr/bin/env bash
# Captures the JSON the terminal UI's snapshot tests render (testdata/tui/): a live pktvisord
# in a private network namespace, fed two of pktvisor's fixture captures with tcpreplay over
# a veth pair, asked for /api/v1/metrics/app, bucket/0, bucket/1 and window/2 after a minute
# boundary. Needs root, tcpreplay, curl and a release build (cargo build --release).
# Usage: scripts/tui_fixtures.sh   (takes up to two minutes: it waits for a new minute)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/pktvisord"
out=testdata/tui
port=10999
source scripts/netns_lab.sh
agent=""
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  lab_down
}
trap cleanup EXIT
lab_up tuif
a=$LAB_A
b=$LAB_B
ip netns exec "$b" "$bin" -l 127.0.0.1 -p "$port" --workers 2 -H 192.168.0.0/24 vb 2>/dev/null &
agent=$!
api() { ip netns exec "$b" curl -sf -m 5 "http://127.0.0.1:$port/api/v1/metrics/$1"; }
until api app >/dev/null; do sleep 0.2; done
replay() {
  for f in dns_udp_tcp_random dns_udp_mixed_rcode; do
    ip netns exec "$a" tcpreplay -q -i va --topspeed "testdata/fixtures/$f.pcap" >/dev/null 2>&1
  done
}
# Traffic in two minutes, so bucket 1 and window 2 exist with data.
replay
sleep $((61 - $(date +%S | sed 's/^0//')))
replay
sleep 2
api app | python3 -m json.tool > "$out/app.json"
api bucket/0 | python3 -m json.tool > "$out/bucket0.json"
api bucket/1 | python3 -m json.tool > "$out/bucket1.json"
api window/2 | python3 -m json.tool > "$out/window2.json"
echo "wrote $out/{app,bucket0,bucket1,window2}.json"
