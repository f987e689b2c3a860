#!/usr/bin/env bash
# Captures the trace JSON the terminal UI's Traces screen tests render (testdata/tui/traces.json,
# testdata/tui/ruleset.json): `pktvisord --nft-trace --netns B` running in A, the ruleset of
# the trace tests (testdata/nftrace/ruleset.nft) loaded in B, traffic from A (ping, ping -6,
# refused TCP, UDP dropped by a policy), then /api/v1/traces?limit=40, /api/v1/nft/ruleset
# and the 400 of a bad filter as the agent serves them. Needs root, nft, curl and a release build (cargo build --release).
# Usage: scripts/tui_trace_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/pktvisord"
out=testdata/tui
port=10998
source scripts/netns_lab.sh
agent=""
data=$(mktemp -d /tmp/pvtest-tuitrace-XXXXXX)
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  lab_down
  rm -rf "$data"
}
trap cleanup EXIT
lab_up tuit --mtu 1500 --addresses
a=$LAB_A
b=$LAB_B
ip netns exec "$a" sysctl -qw net.ipv6.conf.va.disable_ipv6=0
ip netns exec "$b" sysctl -qw net.ipv6.conf.vb.disable_ipv6=0
ip -n "$a" addr add 2001:db8::1/64 dev va nodad
ip -n "$b" addr add 2001:db8::2/64 dev vb nodad
ip netns exec "$a" "$bin" --nft-trace --netns "$b" --data-dir "$data" -l 127.0.0.1 -p "$port" \
  >/dev/null 2>&1 &
agent=$!
api() { ip netns exec "$a" curl -sf -m 5 "http://127.0.0.1:$port/api/v1/$1"; }
until api nft/ruleset >/dev/null; do sleep 0.2; done
ip netns exec "$b" nft -f testdata/nftrace/ruleset.nft
sleep 1
in_a() { ip netns exec "$a" bash -c "$1" >/dev/null 2>&1 || true; }
for _ in 1 2; do
  in_a "ping -c1 -W2 198.51.100.2"
  in_a "ping -6 -c1 -W2 2001:db8::2"
  in_a "exec 3<>/dev/tcp/198.51.100.2/9"
  in_a "echo hi > /dev/udp/198.51.100.2/7"
  in_a "timeout 1 bash -c 'exec 3<>/dev/tcp/2001:db8::2/9'"
done
sleep 2
api "traces?limit=40" | python3 -m json.tool > "$out/traces.json"
api nft/ruleset | python3 -m json.tool > "$out/ruleset.json"
# A filter the agent refuses (`dport ==`): its 400 answer.
ip netns exec "$a" curl -s -m 5 "http://127.0.0.1:$port/api/v1/traces?q=dport%20%3D%3D" \
  | python3 -m json.tool > "$out/traces_bad_q.json"
echo "wrote $out/traces.json, ruleset.json and traces_bad_q.json"
