#!/usr/bin/env bash
# nft_trace_flood.sh [PKTVISORD_BIN]
#
# nftables traces under a UDP flood: pktvisord --nft-trace beside `nft monitor trace`, in the
# same run, on the same packets (issue 16's Speed section). Needs root.
#
# Two network namespaces joined by a veth pair (198.51.100.1 in A, .2 in B; made here,
# deleted on exit). B's ruleset traces every UDP packet to port 9999 and drops it with a
# counter:
#     udp dport 9999 meta nftrace set 1
#     udp dport 9999 counter drop
# so each packet is one trace (two events: the rule that sets nftrace, the drop) and nft's
# counter is the number of traces the kernel made. A sends with `tcpreplay --pps` at each
# rate of RATES for SECONDS seconds. Listening in B at the same time:
#   pktvisord --nft-trace --netns B (run in A, its API on 127.0.0.1 there, stdout discarded,
#       the store in a temporary directory): its records with verdict drop, its overruns
#       (ENOBUFS) and the events they lost (the socket's drop counter), records stored,
#       from /metrics; its CPU seconds (utime+stime of /proc/PID/stat) per 1 000 traces,
#       and at the end by thread;
#   nft monitor trace: its lines with "(verdict drop)", one per packet.
# For each rate: packets sent (tcpreplay), traced (the counter), ours and nft's, lost
# (counter - records), overruns; then the highest rate with 0 lost for each. Last, SUSTAIN
# seconds at SUSTAIN_RATE: every trace stored (stored == counter)?
#
# Env: RATES="5000 10000 20000 40000 80000"  SECONDS_EACH=10  SUSTAIN_RATE=20000
#      SUSTAIN=60 (0: skipped)  PORT=10899
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
[[ $# -le 1 ]] || die "usage: $0 [PKTVISORD_BIN]"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-$HERE/../target/release/pktvisord}
RATES=${RATES:-"5000 10000 20000 40000 80000"}
SECONDS_EACH=${SECONDS_EACH:-10}
SUSTAIN_RATE=${SUSTAIN_RATE:-20000}
SUSTAIN=${SUSTAIN:-60}
PORT=${PORT:-10899}
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, nftables)"
[[ -x $BIN ]] || die "$BIN not built (cargo build --release)"
for t in ip nft tcpreplay curl python3; do
    command -v "$t" >/dev/null || die "'$t' not found (apt-get install iproute2 nftables tcpreplay curl python3)"
done

source "$HERE/../scripts/netns_lab.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pvbench_flood.XXXXXX")
trap 'lab_cleanup; rm -rf "$WORK"' EXIT
lab_up flood --mtu 1500 --addresses
NSA=$LAB_A
NSB=$LAB_B

ip netns exec "$NSB" nft -f - <<'NFT'
table ip flood {
    chain pre {
        type filter hook prerouting priority 0; policy accept;
        udp dport 9999 meta nftrace set 1
        udp dport 9999 counter drop
    }
}
NFT

# 1 000 UDP packets A -> B (source ports 10000-10999), to B's MAC, replayed in a loop.
mac() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }
python3 - "$WORK/flood.pcap" "$(mac "$NSA" va)" "$(mac "$NSB" vb)" <<'PY'
import struct, sys
out, src_mac, dst_mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), bytes.fromhex(sys.argv[3].replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xFFFF) + (s >> 16)
    return ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    payload = b"pktvisor flood....."[:18]
    for i in range(1000):
        udp = struct.pack("!HHHH", 10000 + i, 9999, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2]))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = dst_mac + src_mac + b"\x08\x00" + ip + udp
        f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
PY

ip netns exec "$NSA" "$BIN" --nft-trace --netns "$NSB" --data-dir "$WORK/store" \
    -l 127.0.0.1 -p "$PORT" >/dev/null 2>"$WORK/agent.err" &
AGENT=$!
LAB_PIDS+=("$AGENT")
ip netns exec "$NSB" nft monitor trace >"$WORK/monitor.txt" 2>&1 &
MONITOR=$!
LAB_PIDS+=("$MONITOR")

metric() { # the value of one sample of the agent's /metrics (0 when absent)
    ip netns exec "$NSA" curl -s -m 5 "http://127.0.0.1:$PORT/metrics" |
        awk -v m="$1" '$1 == m {v = $2} END {print v + 0}'
}
for _ in $(seq 100); do
    ip netns exec "$NSA" curl -s -m 1 "http://127.0.0.1:$PORT/metrics" >/dev/null 2>&1 && break
    sleep 0.1
done
kill -0 "$AGENT" 2>/dev/null || { cat "$WORK/agent.err"; die "pktvisord did not start"; }

counter() { ip netns exec "$NSB" nft -j list ruleset | python3 -c '
import json, sys
for item in json.load(sys.stdin)["nftables"]:
    for e in item.get("rule", {}).get("expr", []):
        if "counter" in e:
            print(e["counter"]["packets"])'; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
nft_lines() { grep -c '(verdict drop)' "$WORK/monitor.txt" || true; }
ours() { metric 'pv_nft_trace_verdicts_total{verdict="drop"}'; }
# Waits until our records and nft's lines stop changing (both drain their buffers).
settle() {
    local last="" now
    for _ in $(seq 60); do
        sleep 1
        now="$(ours) $(nft_lines)"
        [[ $now == "$last" ]] && return
        last=$now
    done
}

# Warm up: one packet, so that both have seen a trace and loaded the ruleset.
ip netns exec "$NSA" tcpreplay -q -i va --limit=1 "$WORK/flood.pcap" >/dev/null 2>&1
settle

# run RATE SECONDS: replays, settles, prints one row; sets LOST_OURS, LOST_NFT, STORED_GAP.
run() {
    local rate=$1 secs=$2 loops c0 r0 n0 o0 e0 s0 u0 c1 r1 n1 o1 e1 s1 u1 sent
    loops=$(((rate * secs + 999) / 1000))
    c0=$(counter) r0=$(ours) n0=$(nft_lines) o0=$(metric pv_nft_trace_overruns_total)
    e0=$(metric pv_nft_trace_lost_events_total)
    s0=$(metric pv_nft_trace_stored_total) u0=$(cpu "$AGENT")
    sent=$(ip netns exec "$NSA" tcpreplay -i va -K --pps="$rate" --loop="$loops" "$WORK/flood.pcap" 2>&1 |
        awk '/Actual:/ {n = $2} /Rated:/ {pps = $6} END {printf "%d %.0f", n, pps}')
    settle
    c1=$(counter) r1=$(ours) n1=$(nft_lines) o1=$(metric pv_nft_trace_overruns_total)
    e1=$(metric pv_nft_trace_lost_events_total)
    s1=$(metric pv_nft_trace_stored_total) u1=$(cpu "$AGENT")
    local traced=$((c1 - c0)) got=$((r1 - r0)) nft=$((n1 - n0))
    LOST_OURS=$((traced - got)) LOST_NFT=$((traced - nft)) STORED_GAP=$((traced - (s1 - s0)))
    local per_k
    per_k=$(awk -v a="$u0" -v b="$u1" -v n="$got" 'BEGIN {printf "%.3f", n ? (b - a) * 1000 / n : 0}')
    printf "%8s %6s %14s %9s %9s %9s %14s %9s %9s %10s\n" "$rate" "$secs" "$sent" "$traced" \
        "$got" "$LOST_OURS" "$((o1 - o0))/$((e1 - e0))" "$nft" "$LOST_NFT" "$per_k"
}

echo "pktvisord: $BIN; kernel $(uname -r); $(nft --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%8s %6s %14s %9s %9s %9s %14s %9s %9s %10s\n" rate/s secs "sent (pps)" traced ours \
    "ours lost" "overruns/ev" nft "nft lost" "cpu s/1k"
best_ours=0 best_nft=0 ours_ok=1 nft_ok=1
for rate in $RATES; do
    run "$rate" "$SECONDS_EACH"
    if ((ours_ok && LOST_OURS == 0)); then best_ours=$rate; else ours_ok=0; fi
    if ((nft_ok && LOST_NFT == 0)); then best_nft=$rate; else nft_ok=0; fi
done
echo "highest rate with 0 lost (every lower rate too): pktvisord $best_ours/s, nft monitor trace $best_nft/s"
if ((SUSTAIN > 0)); then
    echo "sustained:"
    run "$SUSTAIN_RATE" "$SUSTAIN"
    echo "sustained $SUSTAIN_RATE/s for $SUSTAIN s: not stored $STORED_GAP, ours lost $LOST_OURS, nft lost $LOST_NFT"
fi
echo "store: $(du -sh "$WORK/store" | cut -f1); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pktvisord CPU seconds by thread:"
for t in /proc/"$AGENT"/task/*; do
    # After the name's ")" (names have spaces): utime and stime are the 12th and 13th.
    sed 's/^.*) //' "$t/stat" | awk -v hz="$(getconf CLK_TCK)" -v name="$(cat "$t/comm")" \
        '{s = ($12 + $13) / hz; if (s > 0) printf "  %-16s %8.2f\n", name, s}'
done
kill -INT "$AGENT"
wait "$AGENT" || true
tail -1 "$WORK/agent.err"
