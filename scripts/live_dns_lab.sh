#!/usr/bin/env bash
# live_dns_lab.sh OUTDIR PKTVISORD [SECONDS]
#
# The live agent on the server side of real DNS traffic. Two network namespaces joined by a
# veth pair (created here, deleted on exit):
#   b ("server", 198.51.100.2): unbound answering local zones (NOERROR, NXDOMAIN, REFUSED),
#     pktvisord capturing vb (its API on 127.0.0.1 inside b), tcpdump writing the same traffic;
#   a ("client", 198.51.100.1): dnsperf sending the query file for SECONDS (default 20).
# Leaves in OUTDIR: dnsperf.txt (dnsperf's report), dns.pcap (tcpdump), bucket0.json,
# bucket1.json (the agent's two newest buckets; bucket1 absent if not yet there), app.json.
# Needs root, ip, unbound, dnsperf, tcpdump, curl.
set -euo pipefail

die() { echo "live_dns_lab: error: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 OUTDIR PKTVISORD [SECONDS]"
OUT=$(readlink -f "$1")
BIN=$2
SECS=${3:-20}
[[ $EUID -eq 0 ]] || die "must run as root"
for t in ip unbound dnsperf tcpdump curl; do
    command -v "$t" >/dev/null || die "'$t' not found"
done
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/pv_live_dns.XXXXXX)
source "$(dirname "$0")/netns_lab.sh"
PORT=$((20000 + $$ % 20000))
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.2
    lab_down
    rm -rf "$TMP"
}
trap cleanup EXIT
lab_up ld --mtu 1500 --addresses
NSA=$LAB_A
NSB=$LAB_B

cat >"$TMP/unbound.conf" <<EOF
server:
    interface: 198.51.100.2
    port: 53
    do-ip6: no
    access-control: 198.51.100.0/24 allow
    username: ""
    chroot: ""
    directory: "$TMP"
    pidfile: "$TMP/unbound.pid"
    use-syslog: no
    logfile: "$TMP/unbound.log"
    do-daemonize: no
    num-threads: 1
    local-zone: "." refuse
    local-zone: "example.test." static
    local-data: "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"
    local-data: "www.example.test. 300 IN A 198.51.100.10"
    local-data: "www.example.test. 300 IN AAAA 2001:db8::10"
    local-data: "mail.example.test. 300 IN A 198.51.100.25"
    local-data: 'txt.example.test. 300 IN TXT "v=spf1 -all"'
    local-zone: "refused.test." refuse
EOF
ip netns exec "$NSB" unbound -d -c "$TMP/unbound.conf" &
PIDS+=($!)

# The query mix: answers, NODATA, NXDOMAIN and REFUSED.
{
    for i in $(seq 1 40); do
        echo "www.example.test A"
        echo "www.example.test AAAA"
        echo "mail.example.test A"
        echo "txt.example.test TXT"
        echo "mail.example.test MX"
        echo "nx$i.example.test A"
        echo "host$i.refused.test A"
    done
} >"$TMP/queries.txt"

# Unbound is up when it answers (a probe before the agent starts, so it is not counted).
echo "www.example.test A" >"$TMP/probe.txt"
for _ in $(seq 50); do
    ip netns exec "$NSA" dnsperf -s 198.51.100.2 -d "$TMP/probe.txt" -n 1 -t 1 2>/dev/null |
        grep -q 'Queries completed: *1 ' && break
    sleep 0.2
done

ip netns exec "$NSB" "$BIN" -l 127.0.0.1 -p "$PORT" --workers 2 vb 2>"$OUT/pktvisord.err" &
AGENT=$!
PIDS+=("$AGENT")
ip netns exec "$NSB" tcpdump -Z root -i vb -B 65536 -w "$OUT/dns.pcap" --immediate-mode "udp port 53" \
    2>"$OUT/tcpdump.err" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
api() { ip netns exec "$NSB" curl -s -m 5 "http://127.0.0.1:$PORT$1"; }
for _ in $(seq 100); do api /api/v1/metrics/app >/dev/null && break; sleep 0.1; done
# tcpdump is the oracle: a ring as large as the agent's (-B, KiB) so that it keeps up on a loaded
# machine, and dnsperf starts only once it says it is capturing.
for _ in $(seq 100); do grep -q "listening on" "$OUT/tcpdump.err" && break; sleep 0.1; done
sleep 1

ip netns exec "$NSA" dnsperf -s 198.51.100.2 -d "$TMP/queries.txt" -l "$SECS" -Q 2000 -c 4 -t 2 >"$OUT/dnsperf.txt" 2>&1
sleep 1.5
api /api/v1/metrics/app >"$OUT/app.json"
# Buckets 0 and 1 hold the run (20 s cannot span more); a minute boundary between the two
# reads would count a bucket twice, so they are taken again until bucket 0 brackets them.
for _ in 1 2 3; do
    api /api/v1/metrics/bucket/0 >"$OUT/bucket0.json"
    if ! api /api/v1/metrics/bucket/1 | tee "$OUT/bucket1.json" | grep -q '"1m"'; then
        rm -f "$OUT/bucket1.json"
    fi
    api /api/v1/metrics/bucket/0 | cmp -s - "$OUT/bucket0.json" && break
done
kill -INT "$TCPDUMP"; wait "$TCPDUMP" || true
kill -TERM "$AGENT"; wait "$AGENT" || true
