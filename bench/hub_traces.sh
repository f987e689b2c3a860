#!/usr/bin/env bash
# Trace ingest of the hub: AGENTS simulated agents (default 4) push N trace records
# (default 400 000, ~600 bytes of JSON each, in the agents' batches of 2 000) to one
# `pktvisor hub`, on SQLite, then on a ClickHouse server this script starts (its own config
# and data under a temporary directory, ports on 127.0.0.1). Prints, per store, records/s
# from the first push to the last answer and the hub's CPU seconds over the run (from
# /proc/PID/stat), with the load average (other work on the machine changes the rates).
# Usage: bench/hub_traces.sh   (after cargo build --release --workspace --examples)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release}
n=${N:-400000}
agents=${AGENTS:-4}
work=$(mktemp -d /tmp/pvbench-hubtr.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=bench/clickhouse.sh
source bench/clickhouse.sh

cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }

run_store() {
  local store=$1 name=$2 hp hub c0 c1
  hp=$(port)
  "$bin/pktvisor" hub --listen "127.0.0.1:$hp" --store "$store" 2>"$work/hub-$name.log" &
  hub=$!
  pids+=("$hub")
  until curl -sf "http://127.0.0.1:$hp/metrics" >/dev/null; do sleep 0.05; done
  c0=$(cpu "$hub")
  echo "$name: load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bin/examples/trace_ingest" "http://127.0.0.1:$hp" "$n" "$agents"
  c1=$(cpu "$hub")
  echo "$name: hub CPU $(echo "$c1 - $c0" | bc) s; records stored: $(curl -s "http://127.0.0.1:$hp/metrics" | awk '/^pktvisor_hub_trace_records_written_total/ {print $2}')"
}

run_store "sqlite:$work/hub.sqlite" sqlite
start_clickhouse "$work/ch"
run_store "$ch_store" clickhouse
