#!/usr/bin/env bash
# record_live.sh FILE [PKTVISORD_BIN]
#
# Live recording under load, beside tcpdump -w on the same replay. Needs root.
# Two network namespaces joined by a veth pair (created here, deleted on exit); FILE is
# replayed from one side with `tcpreplay --topspeed`; on the other side, in turn:
#   pktvisord --workers 1 --record DIR --compress zstd vb   (64 KiB cutoff, summaries too)
#   tcpdump -i vb -w DIR/all.pcap                           (every packet, uncompressed)
# For each: packets replayed, seen, dropped (pktvisord: kernel + interface + worker queue +
# recorder queue drops; tcpdump: its own report), CPU seconds of the process (utime+stime from
# /proc), CPU nanoseconds per packet, bytes written and bytes written per second of replay.
#
# Env: PORT=10853  CUTOFF=64k  COMPRESS=zstd
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 FILE [PKTVISORD_BIN]"
FILE=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${2:-$HERE/../target/release/pktvisord}
PORT=${PORT:-10853}
CUTOFF=${CUTOFF:-64k}
COMPRESS=${COMPRESS:-zstd}
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, capture)"
[[ -r $FILE ]] || die "cannot read $FILE"
[[ -x $BIN ]] || die "$BIN not built (cargo build --release)"
for t in ip tcpreplay tcpdump curl python3; do
    command -v "$t" >/dev/null || die "'$t' not found"
done

source "$(dirname "$0")/../scripts/netns_lab.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_record_live.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    lab_down
    rm -rf "$TMP"
}
trap cleanup EXIT
lab_up recb
NSA=$LAB_A
NSB=$LAB_B

PACKETS=$(tcpdump -r "$FILE" -n -q 2>/dev/null | wc -l)
cat "$FILE" >/dev/null

cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
metric() { ip netns exec "$NSB" curl -s -m 5 "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
files_bytes() { find "$1" -type f -printf "%s\n" | awk '{s += $1} END {print s + 0}'; }
now_s() { date +%s.%N; }
replay() { ip netns exec "$NSA" tcpreplay -q -i va --topspeed "$FILE" 2>&1 | awk '/Rated:/ {printf "%.0f pps", $6; exit}'; }

echo "capture: $FILE ($PACKETS packets)"

# --- pktvisord --record ----------------------------------------------------------------------
ip netns exec "$NSB" "$BIN" -l 127.0.0.1 -p "$PORT" --workers 1 --record "$TMP/rec" \
    --flow-cutoff-bytes "$CUTOFF" --compress "$COMPRESS" vb 2>"$TMP/agent.err" &
AGENT=$!
PIDS+=("$AGENT")
for _ in $(seq 50); do [[ -n $(metric gotm_packet_count) ]] && break; sleep 0.1; done
cpu0=$(cpu_seconds "$AGENT")
t0=$(now_s)
rate=$(replay)
t1=$(now_s)
for _ in $(seq 100); do
    [[ $(metric gotm_packet_count) -ge $PACKETS ]] && break
    sleep 0.1
done
sleep 0.5
cpu1=$(cpu_seconds "$AGENT")
seen=$(metric gotm_packet_count)
written=$(metric gotm_packet_output_count)
drops=$(( $(metric gotm_packet_nic_dropped) + $(metric gotm_packet_nic_if_dropped) + $(metric pv_record_queue_drops_total) ))
queue=$(ip netns exec "$NSB" curl -s -m 5 "http://127.0.0.1:$PORT/api/v1/metrics/app" | python3 -c "import json,sys; print(json.load(sys.stdin)['capture']['queue_drops'])")
drops=$(( drops + queue ))
kill -TERM "$AGENT"; wait "$AGENT" || true
agent_bytes=$(files_bytes "$TMP/rec")
agent_cpu=$(python3 -c "print(round($cpu1 - $cpu0, 3))")
agent_secs=$(python3 -c "print($t1 - $t0)")

# --- tcpdump -w ------------------------------------------------------------------------------
mkdir -p "$TMP/td"
ip netns exec "$NSB" tcpdump -Z root -i vb -w "$TMP/td/all.pcap" 2>"$TMP/tcpdump.err" &
TD=$!
PIDS+=("$TD")
sleep 1
tcpdump_cpu0=$(cpu_seconds "$TD")
t0=$(now_s)
tcpdump_rate=$(replay)
t1=$(now_s)
sleep 1
tcpdump_cpu1=$(cpu_seconds "$TD")
kill -INT "$TD"; wait "$TD" || true
td_seen=$(awk '/packets received by filter/ {print $1}' "$TMP/tcpdump.err")
td_drop=$(awk '/packets dropped by kernel/ {print $1}' "$TMP/tcpdump.err")
td_bytes=$(files_bytes "$TMP/td")
td_cpu=$(python3 -c "print(round($tcpdump_cpu1 - $tcpdump_cpu0, 3))")
td_secs=$(python3 -c "print($t1 - $t0)")

row() { # name seen dropped cpu bytes secs
    python3 -c "
n, seen, drop, cpu, b, s, p = '$1', $2, $3, $4, $5, $6, $PACKETS
print(f'| {n} | {p} | {seen} | {drop} | {cpu:.2f} | {cpu * 1e9 / p:.0f} | {b} | {b / s / 1e6:.2f} |')"
}
echo "pktvisord replay: $rate in ${agent_secs}s; tcpdump replay: $tcpdump_rate in ${td_secs}s"
echo "pktvisord wrote $written of $seen packets (cutoff $CUTOFF, $COMPRESS)"
echo
echo "| tool | replayed | seen | dropped | CPU s | CPU ns/packet | bytes written | MB/s written |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "pktvisord --record (cutoff $CUTOFF, $COMPRESS; summaries on)" "$seen" "$drops" "$agent_cpu" "$agent_bytes" "$agent_secs"
row "tcpdump -w FILE" "$td_seen" "$td_drop" "$td_cpu" "$td_bytes" "$td_secs"
