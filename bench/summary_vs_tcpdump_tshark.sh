#!/usr/bin/env bash
# summary_vs_tcpdump_tshark.sh FILE [PKTVISOR_BIN]
#
# Times, on the same capture and pinned to one CPU core (taskset -c $CPU):
#   tcpdump -r FILE -w /dev/null            the libpcap read floor
#   tshark -n -r FILE -q -z io,phs          protocol hierarchy summary
#   tshark -n -r FILE -q -z dns,tree        DNS statistics
#   PKTVISOR_BIN summarize FILE --json      our summary, net handler only and net+dns
#                                            (default target/release/pktvisor)
# Each is run $RUNS times (default 3) under /usr/bin/time -f '%e %M' (peak RSS;
# the wall time is taken with a nanosecond clock around it, as %e only has
# 10 ms resolution); the best (lowest) wall time is kept with that run's RSS.
# Prints a plain table and the same as a Markdown table for docs/performance.md.
#
# Env: RUNS=3  CPU=0  PKTVISOR_ARGS="--json"  (extra args after FILE)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_args 3 "$@"
CPU=${CPU:-0}
read -r -a PV_ARGS <<<"${PKTVISOR_ARGS:---json}"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"
TOOLS_HINT="apt-get install tcpdump tshark util-linux gawk" need_tools tcpdump tshark capinfos taskset awk
taskset -c "$CPU" true 2>/dev/null || die "cannot pin to CPU $CPU"

TMP=$(mktemp -d /tmp/bench_summary.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

PACKETS=$(capinfos -c -M "$FILE" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/[ \t]/, "", $2); print $2}')
if ! [[ $PACKETS =~ ^[0-9]+$ ]]; then
    PACKETS=$(tcpdump -r "$FILE" -n -q 2>/dev/null | wc -l)
fi
[[ $PACKETS -gt 0 ]] || die "$FILE has no packets"
BYTES=$(stat -c %s "$FILE")

# warm the page cache so every tool reads from memory
cat "$FILE" >/dev/null

ROWS=()   # "name|seconds|rss_kb|status"

# measure NAME CMD... ; runs RUNS times, keeps best wall time
measure() {
    local name=$1; shift
    local best="" best_rss="" i secs rss rc t0 t1
    for ((i = 1; i <= RUNS; i++)); do
        rc=0
        t0=$(date +%s%N)
        /usr/bin/time -f '%e %M' -o "$TMP/time" taskset -c "$CPU" "$@" >/dev/null 2>"$TMP/err" || rc=$?
        t1=$(date +%s%N)
        if [[ $rc -ne 0 ]]; then
            echo "bench: $name failed (exit $rc):" >&2
            grep -v '^Command exited with non-zero status' "$TMP/err" | head -5 | sed 's/^/    /' >&2
            ROWS+=("$name|-|-|failed (exit $rc)")
            return 0
        fi
        # peak RSS from /usr/bin/time; wall time from the ns clock (time's %e has only 10 ms resolution)
        read -r _ rss < <(tail -1 "$TMP/time")
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        echo "bench: $name run $i: ${secs}s, ${rss} KB peak RSS" >&2
        if [[ -z $best ]] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$secs; best_rss=$rss
        fi
    done
    ROWS+=("$name|$best|$best_rss|ok")
}

measure "tcpdump -r (read floor)" tcpdump -n -r "$FILE" -w /dev/null
measure "tshark -z io,phs" tshark -n -r "$FILE" -q -z io,phs
measure "tshark -z dns,tree" tshark -n -r "$FILE" -q -z dns,tree
if [[ -x $BIN ]]; then
    measure "pktvisor summarize (net)" "$BIN" summarize "$FILE" "${PV_ARGS[@]}" --no-dns
    measure "pktvisor summarize (net+dns)" "$BIN" summarize "$FILE" "${PV_ARGS[@]}"
else
    echo "bench: $BIN not found or not executable (build it: cargo build --release); skipped" >&2
    ROWS+=("pktvisor summarize|-|-|not built")
fi

# ------------------------------------------------------------------ report
TCPDUMP_SECS=$(printf '%s\n' "${ROWS[0]}" | awk -F'|' '{print $2}')
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo
echo "file: $FILE ($PACKETS packets, $(awk -v b="$BYTES" 'BEGIN{printf "%.1f", b/1048576}') MiB)"
echo "machine: ${cpu_model:-unknown CPU}, $(nproc) cores, kernel $(uname -r)"
echo "versions: $(tcpdump --version 2>&1 | head -1), $(tshark --version 2>/dev/null | head -1)"
echo "note: every run pinned to a single core (taskset -c $CPU); best of $RUNS runs; page cache warm"
echo

fmt_row() {   # name secs rss status -> fields: name secs pps rss_mb ratio
    local name=$1 secs=$2 rss=$3 status=$4
    if [[ $status != ok ]]; then
        printf '%s|%s|%s|%s|%s\n' "$name" "$status" "-" "-" "-"
        return
    fi
    awk -v n="$name" -v s="$secs" -v r="$rss" -v p="$PACKETS" -v t="$TCPDUMP_SECS" 'BEGIN {
        pps = (s > 0) ? sprintf("%.0f", p / s) : "inf";
        ratio = (t != "-" && t > 0) ? sprintf("%.2fx", s / t) : "-";
        printf "%s|%.3f|%s|%.1f|%s\n", n, s, pps, r / 1024, ratio
    }'
}

TABLE=()
for row in "${ROWS[@]}"; do
    IFS='|' read -r name secs rss status <<<"$row"
    TABLE+=("$(fmt_row "$name" "$secs" "$rss" "$status")")
done

printf '%-26s %10s %12s %14s %14s\n' "tool" "seconds" "packets/s" "peak RSS MB" "vs tcpdump"
for r in "${TABLE[@]}"; do
    IFS='|' read -r a b c d e <<<"$r"
    printf '%-26s %10s %12s %14s %14s\n' "$a" "$b" "$c" "$d" "$e"
done

echo
echo "Markdown (for docs/performance.md):"
echo
echo "| tool | seconds | packets/s | peak RSS (MB) | time vs tcpdump |"
echo "|---|---:|---:|---:|---:|"
for r in "${TABLE[@]}"; do
    IFS='|' read -r a b c d e <<<"$r"
    echo "| \`$a\` | $b | $c | $d | $e |"
done
echo
echo "_$PACKETS packets, $(awk -v b="$BYTES" 'BEGIN{printf "%.1f", b/1048576}') MiB; single core (\`taskset -c $CPU\`), best of $RUNS runs, warm page cache; ${cpu_model:-unknown CPU}._"
