#!/usr/bin/env bash
# hub_agents.sh [FILE] [AGENTS]
#
# The hub's read latency with many agents (docs/performance.md "The hub"). A `pktvisor hub`
# on 127.0.0.1 (a port the kernel picks) with a fresh SQLite store in a temporary directory;
# AGENTS (default 100) agents each backfill FILE (default the repo's
# testdata/fixtures/dns_udp_tcp_random.pcap, two busy minutes) three times over, shifted by
# 0, 2 and 4 minutes with editcap and joined with mergecap: six minute buckets per agent, so
# that window/5 merges five starts of every agent. Then times, with curl, the global
# window/5, window/2, bucket/0 and one agent's window/5: the first read after the pushes
# (nothing cached) and the median of RUNS (default 20) reads after it.
#
# Needs: target/release/pktvisor and pktvisord (cargo build --release), curl, editcap and
# mergecap (wireshark-common). Nothing leaves 127.0.0.1; the hub is stopped by its PID.

set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$REPO/bench/lib.sh"
FILE=${1:-$REPO/testdata/fixtures/dns_udp_tcp_random.pcap}
AGENTS=${2:-100}
RUNS=${RUNS:-20}
BIN=$REPO/target/release
[[ -r $FILE ]] || die "cannot read $FILE"
[[ -x $BIN/pktvisor && -x $BIN/pktvisord ]] || die "build first: cargo build --release"
[[ $AGENTS =~ ^[1-9][0-9]*$ ]] || die "AGENTS must be a positive integer"
TOOLS_HINT="apt-get install curl wireshark-common" need_tools curl editcap mergecap

WORK=$(mktemp -d /tmp/pvtest-hubbench.XXXXXX)
HUB_PID=
cleanup() {
    [[ -n $HUB_PID ]] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

editcap -t 120 "$FILE" "$WORK/p2.pcap"
editcap -t 240 "$FILE" "$WORK/p4.pcap"
mergecap -F pcap -w "$WORK/agent.pcap" "$FILE" "$WORK/p2.pcap" "$WORK/p4.pcap"

"$BIN/pktvisor" hub --listen 127.0.0.1:0 --store "sqlite:$WORK/hub.sqlite" \
    ${HUB_ARGS:-} 2>"$WORK/hub.err" &
HUB_PID=$!
for _ in $(seq 100); do
    grep -q 'listening on' "$WORK/hub.err" 2>/dev/null && break
    sleep 0.1
done
ADDR=$(sed -n 's/.*listening on //p' "$WORK/hub.err")
[[ -n $ADDR ]] || die "the hub did not start: $(cat "$WORK/hub.err")"
URL=http://$ADDR

# The hub's CPU seconds so far (user + system, from /proc/PID/stat).
hub_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$HUB_PID/stat"
}
cpu0=$(hub_cpu)
start=$(date +%s.%N)
for i in $(seq 0 $((AGENTS - 1))); do
    "$BIN/pktvisord" --hub "$URL" --agent-id "a$i" "$WORK/agent.pcap" >/dev/null 2>"$WORK/push.err" \
        || die "backfill of agent a$i failed: $(cat "$WORK/push.err")"
done
echo "backfilled $AGENTS agents in $(echo "$(date +%s.%N) - $start" | bc) s" \
     "($(du -h "$WORK/hub.sqlite" | cut -f1) store)"
cpu_push=$(echo "scale=6; ($(hub_cpu) - $cpu0) / ($AGENTS * 6)" | bc)
# Ingest cost of a live fleet: each agent pushes one bucket a minute per policy and a
# heartbeat every 5 s round (12 a minute). Heartbeats are timed here, 1 200 of them (a minute
# of 100 agents), sent by curl four at a time.
printf '{"agent":"a%s","version":"bench","interfaces":["eth0"],"policies":["default"],"drops":0,"spool_bytes":0,"spool_dropped":0}\n' \
    $(seq 0 $((AGENTS - 1))) >"$WORK/heartbeats"
cpu1=$(hub_cpu)
for _ in $(seq 12); do cat "$WORK/heartbeats"; done |
    xargs -P 4 -d '\n' -I{} curl -sf -o /dev/null -H 'Content-Type: application/json' \
        --data-binary '{}' "$URL/api/v1/push/heartbeat"
cpu_hb=$(echo "scale=6; ($(hub_cpu) - $cpu1) / ($AGENTS * 12)" | bc)
printf 'hub CPU: %.2f ms a bucket push, %.3f ms a heartbeat; %d agents a minute (one policy): %.2f %% of a core\n' \
    "$(echo "$cpu_push * 1000" | bc)" "$(echo "$cpu_hb * 1000" | bc)" "$AGENTS" \
    "$(echo "($AGENTS * $cpu_push + $AGENTS * 12 * $cpu_hb) * 100 / 60" | bc -l)"


# time_path PATH: the first read's and the median of RUNS reads' seconds, in ms.
time_path() {
    local path=$1 first t all=()
    first=$(curl -sf -o /dev/null -w '%{time_total}' "$URL$path") || die "GET $path failed"
    for _ in $(seq "$RUNS"); do
        t=$(curl -sf -o /dev/null -w '%{time_total}' "$URL$path") || die "GET $path failed"
        all+=("$t")
    done
    local median
    median=$(printf '%s\n' "${all[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-40s first %7.1f ms   median of %d %7.1f ms\n' "$path" \
        "$(echo "$first * 1000" | bc)" "$RUNS" "$(echo "$median * 1000" | bc)"
}
RSS_BEFORE=$(awk '/VmRSS/ {print $2, $3}' "/proc/$HUB_PID/status")
# The hub's /metrics decodes every agent's newest bucket: read it after the windows, so that
# their first reads find nothing cached.
time_path /api/v1/metrics/window/5
time_path /api/v1/metrics/window/2
time_path /api/v1/metrics/bucket/0
time_path /api/v1/agents/a5/metrics/window/5
time_path /metrics
metric() { curl -sf "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
echo "store writes: $(metric pktvisor_hub_rows_written_total) rows," \
     "$(echo "scale=2; 1000 * $(metric pktvisor_hub_store_write_seconds_sum) / $(metric pktvisor_hub_store_write_seconds_count)" | bc) ms mean"
echo "cache: $(metric pktvisor_hub_cache_entries) entries, $(metric pktvisor_hub_cache_bytes) bytes," \
     "$(metric pktvisor_hub_cache_hits_total) hits, $(metric pktvisor_hub_cache_misses_total) misses," \
     "$(metric pktvisor_hub_cache_evictions_total) evictions;" \
     "hub resident: $RSS_BEFORE before the reads, $(awk '/VmRSS/ {print $2, $3}' "/proc/$HUB_PID/status") after"

# A restart on the same store: the hub decodes the newest starts into its cache as it starts,
# holding the store meanwhile, so its first answer of /api/v1/agents (which reads the store)
# comes after that; then the first window/5 after the restart is timed again.
kill "$HUB_PID"
wait "$HUB_PID" 2>/dev/null || true
: >"$WORK/hub.err"
restarted=$(date +%s.%N)
"$BIN/pktvisor" hub --listen "$ADDR" --store "sqlite:$WORK/hub.sqlite" ${HUB_ARGS:-} \
    2>"$WORK/hub.err" &
HUB_PID=$!
for _ in $(seq 600); do
    curl -sf -o /dev/null "$URL/api/v1/agents" && break
    sleep 0.05
done
echo "restarted: first answer $(echo "($(date +%s.%N) - $restarted) * 1000 / 1" | bc) ms after the start"
time_path /api/v1/metrics/window/5
