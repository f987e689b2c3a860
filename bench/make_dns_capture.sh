#!/usr/bin/env bash
# make_dns_capture.sh [OUT.pcap] [SECONDS] [QPS]
#
# Builds the large DNS benchmark capture from real software:
#   namespace b ("server"): unbound answering local zones only (no recursion,
#                           no forwarding, no root servers reachable)
#   namespace a ("client"): dnsperf over UDP at QPS queries/s for SECONDS
#                           (90 % over IPv4, 10 % over IPv6)
#   tcpdump -s 0 -B 65536 on the server's veth writes OUT.pcap.
# Defaults: OUT = bench/out/dns_<SECONDS>s_<QPS>qps.pcap (gitignored),
#           SECONDS = 60, QPS = 20000  ->  about 2.4 M packets, ~230 MB.
# The query mix: names that exist (A/AAAA/TXT/MX), NXDOMAIN names under the
# zone, random labels, and a refused zone; thousands of distinct names.
#
# The two namespaces are joined only by a veth pair (198.51.100.0/24,
# 2001:db8::/64) and have no default route: no packet can leave them.
# Needs root.  Everything is cleaned up on exit.
set -euo pipefail

die() { echo "make_dns_capture: error: $*" >&2; exit 1; }
log() { echo "make_dns_capture: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SECS=${2:-60}
QPS=${3:-20000}
OUT=${1:-$REPO/bench/out/dns_${SECS}s_${QPS}qps.pcap}

[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || die "SECONDS must be a positive integer"
[[ $QPS =~ ^[0-9]+$ && $QPS -ge 10 ]] || die "QPS must be an integer >= 10"
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for t in ip tcpdump unbound unbound-checkconf dnsperf kdig capinfos python3; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found (apt-get install iproute2 tcpdump unbound dnsperf knot-dnsutils tshark python3)"
done

mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
case "$OUT" in
    "$REPO"/bench/out/*) ;;
    "$REPO"/*) die "refusing to write the capture into the repository ($OUT); use bench/out/ or /tmp" ;;
esac

NSA="pvb$$a"; NSB="pvb$$b"; VA="pbx$$"; VB="pby$$"
A4=198.51.100.1 B4=198.51.100.2 A6=2001:db8::1 B6=2001:db8::2
TMP=$(mktemp -d /tmp/make_dns_capture.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    set +e
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    rm -rf "$TMP"
    [[ $rc -ne 0 ]] && echo "make_dns_capture: FAILED (exit $rc)" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsa() { ip netns exec "$NSA" "$@"; }
nsb() { ip netns exec "$NSB" "$@"; }

# ------------------------------------------------------------ topology
ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" addr add "$A4/24" dev "$VA"
ip -n "$NSA" addr add "$A6/64" dev "$VA" nodad
ip -n "$NSB" addr add "$B4/24" dev "$VB"
ip -n "$NSB" addr add "$B6/64" dev "$VB" nodad
if command -v ethtool >/dev/null 2>&1; then   # real checksums in the capture
    nsa ethtool -K "$VA" tx off >/dev/null 2>&1 || true
    nsb ethtool -K "$VB" tx off >/dev/null 2>&1 || true
fi
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up
# generous socket buffers so bursts are not dropped by the sockets
for ns in "$NSA" "$NSB"; do
    ip netns exec "$ns" sysctl -qw net.core.rmem_max=16777216 net.core.wmem_max=16777216 2>/dev/null || true
done

# ------------------------------------------------------------ zone + queries
python3 - "$TMP" <<'EOF'
import random, sys
tmp = sys.argv[1]
rnd = random.Random(20240601)          # deterministic mix
N_HOSTS = 5000
hosts = [f"h{i:05d}" for i in range(N_HOSTS)]
with open(f"{tmp}/zone.conf", "w") as z:
    z.write('    local-zone: "bench.test." static\n')
    z.write('    local-data: "bench.test. 3600 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60"\n')
    z.write('    local-data: "bench.test. 3600 IN NS ns.bench.test."\n')
    z.write('    local-data: "bench.test. 3600 IN MX 10 mail.bench.test."\n')
    z.write('    local-data: "ns.bench.test. 3600 IN A 198.51.100.2"\n')
    z.write('    local-data: "mail.bench.test. 3600 IN A 198.51.100.25"\n')
    for i, h in enumerate(hosts):
        z.write(f'    local-data: "{h}.bench.test. 300 IN A 198.51.100.{10 + i % 200}"\n')
        if i % 2 == 0:
            z.write(f'    local-data: "{h}.bench.test. 300 IN AAAA 2001:db8::{i:x}"\n')
        if i % 10 == 0:
            z.write(f'    local-data: \'{h}.bench.test. 300 IN TXT "host {h} id {rnd.getrandbits(64):016x}"\'\n')
        if i % 50 == 0:
            z.write(f'    local-data: "www.{h}.bench.test. 300 IN CNAME {h}.bench.test."\n')
    z.write('    local-zone: "refused.test." refuse\n')

def label(n):
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

with open(f"{tmp}/queries.txt", "w") as q:
    for _ in range(200000):
        r = rnd.random()
        h = rnd.choice(hosts)
        if r < 0.45:
            q.write(f"{h}.bench.test A\n")
        elif r < 0.60:
            q.write(f"{h}.bench.test AAAA\n")          # half of them NODATA
        elif r < 0.64:
            q.write(f"{h}.bench.test TXT\n")
        elif r < 0.65:
            q.write("bench.test MX\n")
        elif r < 0.66:
            q.write(f"www.{hosts[rnd.randrange(0, len(hosts), 50)]}.bench.test A\n")
        elif r < 0.80:
            q.write(f"nx-{h}.bench.test A\n")          # NXDOMAIN
        elif r < 0.97:
            q.write(f"{label(rnd.randint(4, 20))}.{label(rnd.randint(3, 10))}.bench.test A\n")  # random labels, NXDOMAIN
        else:
            q.write(f"{label(8)}.refused.test A\n")    # REFUSED
EOF

cat >"$TMP/unbound.conf" <<EOF
server:
    verbosity: 0
    username: ""
    chroot: ""
    directory: "$TMP"
    pidfile: "$TMP/unbound.pid"
    use-syslog: no
    logfile: ""
    do-daemonize: no
    num-threads: 1
    interface: $B4
    interface: $B6
    port: 53
    do-ip4: yes
    do-ip6: yes
    do-udp: yes
    do-tcp: yes
    so-rcvbuf: 8m
    so-sndbuf: 8m
    access-control: 0.0.0.0/0 refuse
    access-control: ::/0 refuse
    access-control: 198.51.100.0/24 allow
    access-control: 2001:db8::/32 allow
    module-config: "iterator"
    do-not-query-localhost: no
    # no recursion anywhere: every name outside the local zones is refused
    local-zone: "." refuse
$(cat "$TMP/zone.conf")
remote-control:
    control-enable: no
EOF
unbound-checkconf "$TMP/unbound.conf" >/dev/null || die "unbound rejected the generated config"
ip netns exec "$NSB" unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.log" 2>&1 &
UNBOUND_PID=$!; PIDS+=("$UNBOUND_PID")
for i in $(seq 1 200); do
    nsa kdig +short +timeout=1 +retry=0 @"$B4" h00001.bench.test A 2>/dev/null | grep -q 198.51.100 && break
    kill -0 "$UNBOUND_PID" 2>/dev/null || { cat "$TMP/unbound.log" >&2; die "unbound exited"; }
    [[ $i -eq 200 ]] && { cat "$TMP/unbound.log" >&2; die "unbound did not answer"; }
    sleep 0.05
done
nsa kdig +short +timeout=1 +retry=0 @"$B6" h00001.bench.test A 2>/dev/null | grep -q 198.51.100 \
    || die "unbound does not answer over IPv6"
ip -n "$NSA" neigh flush dev "$VA" >/dev/null 2>&1 || true

# ------------------------------------------------------------ capture
rm -f "$OUT"
ip netns exec "$NSB" tcpdump -Z root -n -s 0 -B 65536 -i "$VB" -w "$OUT" 2>"$TMP/tcpdump.err" &
TCPDUMP_PID=$!; PIDS+=("$TCPDUMP_PID")
for i in $(seq 1 100); do
    grep -q "listening on" "$TMP/tcpdump.err" && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$TMP/tcpdump.err" >&2; die "tcpdump exited"; }
    [[ $i -eq 100 ]] && die "tcpdump did not start"
    sleep 0.05
done
sleep 0.2

QPS6=$((QPS / 10)); QPS4=$((QPS - QPS6))
log "dnsperf: ${SECS}s at ${QPS4} qps over IPv4 + ${QPS6} qps over IPv6 (UDP) -> $OUT"
ip netns exec "$NSA" dnsperf -s "$B4" -d "$TMP/queries.txt" -l "$SECS" -Q "$QPS4" -c 16 -q 500 -t 2 >"$TMP/dnsperf4.txt" 2>&1 &
P4=$!; PIDS+=("$P4")
P6=""
if [[ $QPS6 -gt 0 ]]; then
    ip netns exec "$NSA" dnsperf -s "$B6" -d "$TMP/queries.txt" -l "$SECS" -Q "$QPS6" -c 4 -q 200 -t 2 >"$TMP/dnsperf6.txt" 2>&1 &
    P6=$!; PIDS+=("$P6")
fi
rc4=0; rc6=0
wait "$P4" || rc4=$?
[[ -n $P6 ]] && { wait "$P6" || rc6=$?; }
sleep 2    # let tcpdump's last ring-buffer block time out and be written
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
[[ $rc4 -eq 0 ]] || { cat "$TMP/dnsperf4.txt" >&2; die "dnsperf (IPv4) failed"; }
[[ $rc6 -eq 0 ]] || { cat "$TMP/dnsperf6.txt" >&2; die "dnsperf (IPv6) failed"; }

# ------------------------------------------------------------ report
summ() { grep -E "Queries (sent|completed|lost)|Queries per second" "$1" | sed 's/^ */    /'; }
echo "dnsperf IPv4:"; summ "$TMP/dnsperf4.txt"
[[ -n $P6 ]] && { echo "dnsperf IPv6:"; summ "$TMP/dnsperf6.txt"; }
echo "tcpdump: $(grep -E 'packets (captured|received|dropped)' "$TMP/tcpdump.err" | tr '\n' ',' | sed 's/,$//')"
dropped=$(awk '/dropped by kernel/ {print $1}' "$TMP/tcpdump.err")
[[ ${dropped:-0} -eq 0 ]] || log "WARNING: tcpdump reports $dropped packets dropped by the kernel"
echo "capture: $OUT"
capinfos -c -d -u -x -M "$OUT" | sed 's/^/    /'
