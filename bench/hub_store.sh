#!/usr/bin/env bash
# Push write latency and rows/s of the hub's stores: AGENTS agents (default 100) backfill
# FILE (default dns_udp_tcp_random.pcap: two minute buckets, 95 KiB and 9.6 KiB encoded)
# into one `pktvisor hub` on SQLite, then on a ClickHouse server this script starts (its own
# config and data under a temporary directory, ports on 127.0.0.1). Prints, per store, the
# mean store write (pktvisor_hub_store_write_seconds sum / count) and the rows per second
# the store alone sustains (count / sum: the hub writes one push at a time).
# Usage: bench/hub_store.sh   (after cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release}
agents=${AGENTS:-100}
file=${FILE:-testdata/fixtures/dns_udp_tcp_random.pcap}
work=$(mktemp -d /tmp/pvbench-hub.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/clickhouse.sh
source bench/clickhouse.sh

run_store() {
  local store=$1 name=$2 hp
  hp=$(port)
  "$bin/pktvisor" hub --listen "127.0.0.1:$hp" --store "$store" 2>"$work/hub-$name.log" &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$hp/metrics" >/dev/null; do sleep 0.05; done
  local t0 t1
  t0=$(date +%s.%N)
  for i in $(seq "$agents"); do
    "$bin/pktvisord" --hub "http://127.0.0.1:$hp" --agent-id "a$i" "$file" >/dev/null 2>&1
  done
  t1=$(date +%s.%N)
  curl -s "http://127.0.0.1:$hp/metrics" | awk -v name="$name" -v wall="$(echo "$t1 - $t0" | bc)" '
    /^pktvisor_hub_store_write_seconds_sum/ {sum=$2}
    /^pktvisor_hub_store_write_seconds_count/ {n=$2}
    /^pktvisor_hub_rows_written_total/ {rows=$2}
    END {printf "%-10s rows %d  write mean %.2f ms  store-bound %.0f rows/s  (backfills took %.1f s)\n",
         name, rows, sum/n*1000, n/sum, wall}'
}

run_store "sqlite:$work/hub.sqlite" sqlite
start_clickhouse "$work/ch"
run_store "$ch_store" clickhouse
