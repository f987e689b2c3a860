#!/usr/bin/env bash
# search_vs_tcpdump.sh FILE [PKTVISOR_BIN]
#
# The field index (issue 15) on FILE (bench/make_dns_capture.sh's capture is the reference):
#   pktvisor record FILE --rotate-interval 10 --flow-cutoff-bytes 0   record + index, packets/s
#   index size against the pcap bytes
#   pktvisor query: Count(Row(netsrc)), TopN(netsrc), TopN(dns-qname), a two-field GroupBy
#   pktvisor packets 'host X' --pcap   beside   tcpdump -V LIST -w OUT 'host X'
#     for the rarest and the most frequent source address (one client among many, and a
#     client that is most of the traffic): the ratio is tcpdump's time over ours
#   pktvisor packets 'host X' --count
# Query and search times are whole runs (process start, listing, opening the indexes), the
# mean of $RUNS (default 10) with the page cache warm; the record run is the best of 3.
#
# Env: RUNS=10
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args 10 "$@"
need_tools tcpdump awk cmp

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_search.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cat "$FILE" >/dev/null
REC=$TMP/rec
# bash's own clock: forking `date` for each reading would add a millisecond to every run.
now_ns() { local t=${EPOCHREALTIME/./}; echo $((10#$t * 1000)); }

# Mean wall time of RUNS runs of a command, in milliseconds.
mean_ms() {
    local total=0 t0 t1
    for _ in $(seq "$RUNS"); do
        t0=${EPOCHREALTIME/./}
        "$@" >/dev/null 2>&1
        t1=${EPOCHREALTIME/./}
        total=$((total + (10#$t1 - 10#$t0) * 1000))
    done
    awk -v t="$total" -v n="$RUNS" 'BEGIN { printf "%.1f", t / n / 1e6 }'
}

best=""
for _ in 1 2 3; do
    rm -rf "$REC"
    t0=$(now_ns)
    "$BIN" record "$FILE" --out "$REC" --rotate-interval 10 --flow-cutoff-bytes 0 >/dev/null 2>&1
    t1=$(now_ns)
    ms=$(( (t1 - t0) / 1000000 ))
    [[ -z $best || $ms -lt $best ]] && best=$ms
done
PACKETS=$(tcpdump -r "$FILE" -n -q 2>/dev/null | wc -l)
PCAP_BYTES=$(find "$REC" -name '*.pcap' -printf '%s\n' | awk '{s += $1} END {print s}')
INDEX_BYTES=$(find "$REC" \( -name '*.pvx' -o -name '*.pvc' \) -printf '%s\n' | awk '{s += $1} END {print s}')
find "$REC" -name '*.pcap' | sort > "$TMP/list"

echo "capture: $FILE ($PACKETS packets, $(wc -l < "$TMP/list") files of 10 s)"
awk -v ms="$best" -v p="$PACKETS" 'BEGIN { printf "record + index: %d ms, %.2f M packets/s\n", ms, p / ms / 1000 }'
awk -v i="$INDEX_BYTES" -v p="$PCAP_BYTES" 'BEGIN { printf "index: %d bytes, %.1f %% of the pcap bytes\n", i, 100 * i / p }'

# The rarest and the most frequent source address, from the index itself.
tops=$("$BIN" query "$REC" 'TopN(netsrc, n=1000)' 2>/dev/null)
rare=$(echo "$tops" | tr '{' '\n' | awk -F'"Key":"' 'NF > 1 { split($2, a, "\""); k = a[1] } END { print k }')
busy=$(echo "$tops" | tr '{' '\n' | awk -F'"Key":"' 'NF > 1 { split($2, a, "\""); print a[1]; exit }')

echo
echo "query (mean of $RUNS whole runs)                       ms"
for q in "Count(Row(netsrc=\"$busy\"))" "TopN(netsrc, n=10)" "TopN(dns-qname, n=10)" \
    "GroupBy(Rows(netsrc), Rows(transdst), limit=2)"; do
    printf '%-52s %8s\n' "$q" "$(mean_ms "$BIN" query "$REC" "$q")"
done

echo
echo "packets of one host as pcap         ours ms   tcpdump -V ms   tcpdump / ours   packets"
for host in "$rare" "$busy"; do
    f="host $host"
    ours=$(mean_ms "$BIN" packets "$REC" "$f" --pcap "$TMP/ours.pcap")
    # -Z root: tcpdump drops to its own user before writing, and $TMP is ours alone.
    theirs=$(mean_ms tcpdump -Z root -V "$TMP/list" -w "$TMP/theirs.pcap" "$f")
    cmp -s "$TMP/ours.pcap" "$TMP/theirs.pcap" || die "'$f': our pcap differs from tcpdump's"
    n=$(tcpdump -r "$TMP/theirs.pcap" -n -q 2>/dev/null | wc -l)
    awk -v h="$f" -v o="$ours" -v t="$theirs" -v n="$n" \
        'BEGIN { printf "%-34s %8s %15s %16.1f %9d\n", h, o, t, t / o, n }'
    printf '%-34s %8s   (--count)\n' "$f" "$(mean_ms "$BIN" packets "$REC" "$f" --count)"
done
