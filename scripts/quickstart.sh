#!/usr/bin/env bash
# Builds pktvisor and summarizes a real DNS capture shipped in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cargo build --release --locked --bins
set -x
target/release/pktvisor summarize testdata/fixtures/dns_udp_tcp_random.pcap -H 192.168.0.0/24
