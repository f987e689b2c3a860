#!/usr/bin/env bash
# agent_live.sh FILE [PKTVISORD_BIN]
#
# The live agent under load, beside tcpdump on the same replay. Needs root.
#
# 1. Two network namespaces joined by a veth pair (created here, deleted on exit). FILE is
#    replayed from one side with `tcpreplay --topspeed`; on the other side, in turn:
#      pktvisord --workers $WORKERS vb      (net + dns summaries, the REST API on 127.0.0.1)
#      tcpdump -i vb -w /dev/null           (the capture floor)
#    For each: packets replayed, packets seen, kernel drops (pktvisord: its API's libpcap
#    counters and worker queue drops; tcpdump: its own report), CPU seconds of the process
#    (utime+stime from /proc) and CPU nanoseconds per packet.
# 2. File source scaling: `pktvisord --summary --workers 1` vs `--workers 2` on FILE, best of
#    $RUNS, and the ratio.
# 3. With LOOP_MINUTES=N (default 0: skipped): FILE replayed in a loop for N minutes into one
#    agent, its RSS printed every minute.
#
# With RECORD=1 the agent of step 1 also records every packet and indexes the files
# (`--record DIR --flow-cutoff-bytes 0`); afterwards the packets on disk and in the indexes
# are counted (`pktvisor packets --count`, `pktvisor query 'Count(All())'`) against those
# replayed.
#
# Env: WORKERS=2  RUNS=3  LOOP_MINUTES=0  PORT=10853  RECORD=0
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 FILE [PKTVISORD_BIN]"
FILE=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${2:-$HERE/../target/release/pktvisord}
WORKERS=${WORKERS:-2}
RUNS=${RUNS:-3}
LOOP_MINUTES=${LOOP_MINUTES:-0}
RECORD=${RECORD:-0}
CLI=$(dirname "$BIN")/pktvisor
AGENT_EXTRA=()
what="net+dns"
if [[ $RECORD == 1 ]]; then
    [[ -x $CLI ]] || die "$CLI not built (cargo build --release)"
    RECDIR=$(mktemp -d "${TMPDIR:-/tmp}/pvbench_rec.XXXXXX")
    AGENT_EXTRA=(--record "$RECDIR" --flow-cutoff-bytes 0)
    what="net+dns+record+index"
fi
PORT=${PORT:-10853}
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, capture)"
[[ -r $FILE ]] || die "cannot read $FILE"
[[ -x $BIN ]] || die "$BIN not built (cargo build --release)"
for t in ip tcpreplay tcpdump curl capinfos python3; do
    command -v "$t" >/dev/null || die "'$t' not found (apt-get install iproute2 tcpreplay tcpdump curl tshark python3)"
done

source "$(dirname "$0")/../scripts/netns_lab.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    lab_down
}
trap cleanup EXIT
lab_up bench
NSA=$LAB_A
NSB=$LAB_B

PACKETS=$(capinfos -c -M "$FILE" | awk -F: '/Number of packets/ {gsub(/[ \t]/, "", $2); print $2}')

cpu_seconds() { # utime+stime of a PID, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
api() { ip netns exec "$NSB" curl -s -m 5 "http://127.0.0.1:$PORT$1"; }
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

replay() { ip netns exec "$NSA" tcpreplay -q -i va --topspeed "$FILE" 2>&1 | awk '/Rated:/ {printf "%.0f pps, %s Mbps", $6, $4; exit}'; }

echo "capture: $FILE ($PACKETS packets)"
echo

# --- pktvisord -------------------------------------------------------------------------------
ip netns exec "$NSB" "$BIN" -l 127.0.0.1 -p "$PORT" --workers "$WORKERS" "${AGENT_EXTRA[@]}" vb 2>/dev/null &
AGENT=$!
PIDS+=("$AGENT")
for _ in $(seq 50); do api /api/v1/metrics/app >/dev/null && break; sleep 0.1; done
cpu0=$(cpu_seconds "$AGENT")
rate=$(replay)
for _ in $(seq 100); do
    seen=$(api /api/v1/metrics/app | json_get "d['capture']['packets']")
    [[ $seen -ge $PACKETS ]] && break
    sleep 0.1
done
sleep 0.5
cpu1=$(cpu_seconds "$AGENT")
app=$(api /api/v1/metrics/app)
agent_seen=$(json_get "d['capture']['packets']" <<<"$app")
agent_drop=$(json_get "d['capture']['kernel_dropped'] + d['capture']['if_dropped'] + d['capture']['queue_drops']" <<<"$app")
agent_rss=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT/status")
kill -TERM "$AGENT"; wait "$AGENT" || true
agent_cpu=$(python3 -c "print(round($cpu1 - $cpu0, 3))")

# --- tcpdump ---------------------------------------------------------------------------------
ip netns exec "$NSB" tcpdump -Z root -i vb -w /dev/null 2>"/tmp/pvbench_tcpdump$$.err" &
TD=$!
PIDS+=("$TD")
sleep 1
tcpdump_cpu0=$(cpu_seconds "$TD")
tcpdump_rate=$(replay)
sleep 1
tcpdump_cpu1=$(cpu_seconds "$TD")
kill -INT "$TD"; wait "$TD" || true
td_seen=$(awk '/packets received by filter/ {print $1}' "/tmp/pvbench_tcpdump$$.err")
td_drop=$(awk '/packets dropped by kernel/ {print $1}' "/tmp/pvbench_tcpdump$$.err")
rm -f "/tmp/pvbench_tcpdump$$.err"
td_cpu=$(python3 -c "print(round($tcpdump_cpu1 - $tcpdump_cpu0, 3))")

per_packet() { python3 -c "print(round($1 * 1e9 / $PACKETS))"; }
echo "live replay (tcpreplay --topspeed over a veth)"
printf '%-34s %10s %10s %8s %9s %11s %9s\n' tool replayed seen dropped cpu_s ns/packet rss_kB
printf '%-34s %10s %10s %8s %9s %11s %9s\n' "pktvisord --workers $WORKERS ($what)" "$PACKETS" "$agent_seen" "$agent_drop" "$agent_cpu" "$(per_packet "$agent_cpu")" "$agent_rss"
printf '%-34s %10s %10s %8s %9s %11s %9s\n' "tcpdump -w /dev/null" "$PACKETS" "$td_seen" "$td_drop" "$td_cpu" "$(per_packet "$td_cpu")" "-"
echo "replay rates: pktvisord run: $rate; tcpdump run: $tcpdump_rate"
if [[ $RECORD == 1 ]]; then
    on_disk=$("$CLI" packets "$RECDIR" --count 2>/dev/null)
    indexed=$("$CLI" query "$RECDIR" 'Count(All())' 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0])')
    echo "recorded: $on_disk packets on disk, $indexed in the indexes, of $PACKETS replayed"
    rm -rf "$RECDIR"
fi
# /proc counts CPU in clock ticks (10 ms): on a small FILE tcpdump may show none at all.
echo "CPU per packet, pktvisord / tcpdump: $(python3 -c "print(f'{$agent_cpu / $td_cpu:.2f}x' if $td_cpu > 0 else 'n/a (tcpdump used less than one clock tick; replay a larger FILE)')")"
echo

# --- file scaling ----------------------------------------------------------------------------
best() {
    local b="" t0 t1 s
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
        s=$(( (t1 - t0) / 1000000 ))
        [[ -z $b || $s -lt $b ]] && b=$s
    done
    echo "$b"
}
one=$(best "$BIN" --summary --workers 1 "$FILE")
two=$(best "$BIN" --summary --workers 2 "$FILE")
echo "file source, net+dns, best of $RUNS: --workers 1 ${one} ms, --workers 2 ${two} ms, scaling $(python3 -c "print(round($one / $two, 2))")x"

# --- memory over a replay loop ---------------------------------------------------------------
if [[ $LOOP_MINUTES -gt 0 ]]; then
    echo
    echo "RSS over ${LOOP_MINUTES} minutes of looped replay"
    ip netns exec "$NSB" "$BIN" -l 127.0.0.1 -p "$PORT" --workers "$WORKERS" vb 2>/dev/null &
    AGENT=$!
    PIDS+=("$AGENT")
    sleep 1
    end=$(( $(date +%s) + LOOP_MINUTES * 60 ))
    next=$(( $(date +%s) + 60 ))
    while [[ $(date +%s) -lt $end ]]; do
        replay >/dev/null
        if [[ $(date +%s) -ge $next ]]; then
            app=$(api /api/v1/metrics/app)
            echo "minute $(( (next - end) / 60 + LOOP_MINUTES )): rss $(awk '/VmRSS/ {print $2}' "/proc/$AGENT/status") kB, packets $(json_get "d['capture']['packets']" <<<"$app"), drops $(json_get "d['capture']['kernel_dropped'] + d['capture']['queue_drops']" <<<"$app")"
            next=$(( next + 60 ))
        fi
    done
    kill -TERM "$AGENT"; wait "$AGENT" || true
fi
