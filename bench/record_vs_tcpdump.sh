#!/usr/bin/env bash
# record_vs_tcpdump.sh FILE [PKTVISOR_BIN]
#
# File-source recording speed and compression, pinned to one CPU core (taskset -c $CPU):
#   tcpdump -r FILE -w OUT                                   libpcap copying every packet
#   pktvisor record FILE --out DIR --compress none           the 64 KiB cutoff, no compression
#   pktvisor record FILE --out DIR --flow-cutoff-bytes 0     every packet (what tcpdump writes)
#   ... the same with --compress gzip and --compress zstd    (ratios against the pcap size)
# Each is run $RUNS times (default 3); the best wall time is kept. The ratio column is
# tcpdump's time over ours (>= 0.70 is the target; above 1 we are faster). Output goes to a
# temporary directory on the same file system as $TMPDIR (default /tmp).
#
# Env: RUNS=3  CPU=0
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args 3 "$@"
CPU=${CPU:-0}
need_tools tcpdump taskset awk

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_record.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cat "$FILE" >/dev/null   # page cache warm for every tool
PACKETS=$(tcpdump -r "$FILE" -n -q 2>/dev/null | wc -l)
[[ $PACKETS -gt 0 ]] || die "$FILE has no packets"
SIZE=$(stat -c %s "$FILE")

now_ns() { date +%s%N; }

# best_of NAME CMD...: runs CMD $RUNS times after emptying $TMP/out; prints the best seconds
# and the size of what it wrote.
best_of() {
    local name=$1; shift
    local best="" t0 t1 secs
    for _ in $(seq "$RUNS"); do
        rm -rf "$TMP/out"; mkdir -p "$TMP/out"
        t0=$(now_ns)
        taskset -c "$CPU" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; die "$name failed"; }
        t1=$(now_ns)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        if [[ -z $best ]] || awk -v s="$secs" -v b="$best" 'BEGIN { exit !(s < b) }'; then
            best=$secs
        fi
    done
    local written
    written=$(find "$TMP/out" -type f -printf "%s\n" | awk '{s += $1} END {print s + 0}')
    echo "$name|$best|$written"
}

ROWS=()
ROWS+=("$(best_of "tcpdump -r FILE -w OUT" tcpdump -r "$FILE" -w "$TMP/out/t.pcap")")
for cutoff in 64k 0; do
    for c in none gzip zstd; do
        ROWS+=("$(best_of "pktvisor record, cutoff $cutoff, $c" \
            "$BIN" record "$FILE" --out "$TMP/out/r" --flow-cutoff-bytes "$cutoff" --compress "$c")")
    done
done

TCPDUMP_S=$(echo "${ROWS[0]}" | cut -d'|' -f2)
echo "input: $FILE, $PACKETS packets, $SIZE bytes; best of $RUNS, CPU $CPU"
echo
echo "| command | seconds | packets/s | tcpdump time / ours | bytes written | input size / written |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
    IFS='|' read -r name secs written <<<"$row"
    awk -v n="$name" -v s="$secs" -v p="$PACKETS" -v t="$TCPDUMP_S" -v w="$written" -v z="$SIZE" \
        'BEGIN { printf "| %s | %.3f | %.0f | %.2f | %d | %.1f |\n", n, s, p / s, t / s, w, z / w }'
done
