#!/usr/bin/env bash
# Builds pktvisor and summarizes a real DNS capture shipped in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cargo build --release --locked --bins
set -x
target/release/pktvisor summarize testdata/fixtures/dns_udp_tcp_random.pcap -H 192.168.0.0/24
set +x
cat <<'EOF_HINT'

Watch a live interface (root or CAP_NET_RAW; Ctrl-C to stop):
  target/release/pktvisord auto                     # or eth0, any, or a local address
  curl -s localhost:10853/api/v1/metrics/bucket/0   # the live minute, pktvisor's JSON
  curl -s localhost:10853/metrics                   # Prometheus
  target/release/pktvisor                           # the terminal UI of that agent (q quits)
  target/release/pktvisord eth0 --record /var/tmp/pcap   # also record every flow's first 64 KiB
EOF_HINT
