#!/usr/bin/env bash
# make_captures.sh OUTDIR — capture real traffic from real software into pcaps.
#
# Two network namespaces joined by a veth pair:
#   side a ("client"): 198.51.100.1/24, 2001:db8::1/64
#   side b ("server"): 198.51.100.2/24, 2001:db8::2/64
# Neither namespace has a default route or any link to the host's network, so
# nothing can leave them: all traffic stays between the two namespaces (plus
# each namespace's own loopback).  tcpdump runs inside namespace b.
#
# Produces in OUTDIR:
#   ping.pcap      ICMP/ICMPv6 echo, IPv4 fragments, IPv6 fragment headers, ARP/ND
#   http.pcap      python3 http.server + curl over IPv4 and IPv6 (2 MB downloads)
#   dns.pcap       unbound (local zones + forwards inside namespace b only) + kdig UDP/TCP
#                  v4/v6 (also several queries on one TCP connection) + dnsperf; answers are
#                  NOERROR with data, NODATA, NXDOMAIN, REFUSED, SERVFAIL (fast and ~0.4 s)
#                  and slow NOERROR (~50 ms, a delaying responder behind unbound)
#   dnsperf.txt    dnsperf's stdout for the dns.pcap runs: a "### dnsperf IPv4 ..." section
#                  (UDP source ports 20000-20003) then a "### dnsperf IPv6 ..." section (source
#                  port 20010), each with its "Queries sent/completed/lost" and "Response
#                  codes:" lines.  dnsperf's ports are below the ephemeral range, so a BPF
#                  filter on them separates dnsperf's traffic from kdig's.
#   vlan.pcap      802.1Q (id 100) and QinQ (802.1ad 200 / 802.1Q 300) on the veth
#   any.pcap       tcpdump -i any -y LINUX_SLL  during pings + DNS (tcpdump 4.99 would default to SLL2)
#   any_sll2.pcap  tcpdump -i any -y LINUX_SLL2 during pings + DNS
#
# Needs root.  Everything it starts is stopped by PID, and the namespaces and
# temp dir are removed on exit (also on failure or Ctrl-C).
# Env: KEEP_OFFLOADS=1 keeps veth TSO/GSO/GRO/checksum offloads (default: off,
#      so frames look like wire frames: <= MTU and with valid checksums).
set -euo pipefail

die() { echo "make_captures: error: $*" >&2; exit 1; }
log() { echo "make_captures: $*" >&2; }

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
[[ $EUID -eq 0 ]] || die "must run as root (needs network namespaces and tcpdump)"

for t in ip tcpdump ping curl python3 unbound kdig dnsperf capinfos ethtool timeout; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found (apt-get install iproute2 tcpdump iputils-ping curl python3 unbound knot-dnsutils dnsperf tshark ethtool coreutils)"
done

OUTDIR=$1
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

NSA="pvt$$a"
NSB="pvt$$b"
VA="pva$$"      # veth end in namespace a
VB="pvb$$"      # veth end in namespace b
A4=198.51.100.1   B4=198.51.100.2
A6=2001:db8::1    B6=2001:db8::2
# VLAN 100 and QinQ 200/300 subnets (more specific than the /24 on the veth)
VA4=198.51.100.65 VB4=198.51.100.66 V6A=2001:db8:100::1 V6B=2001:db8:100::2
QA4=198.51.100.97 QB4=198.51.100.98 Q6A=2001:db8:300::1 Q6B=2001:db8:300::2
DEAD4=198.51.100.99   # inside the test subnet; nothing answers there
DNSPERF4_PORT=20000   # dnsperf's UDP source ports (-x; one per client: 20000-20003)
DNSPERF6_PORT=20010
DELAY_MS=50           # the delaying responder behind unbound's "delay.test." forward
                      # (unbound drops a forwarder whose timeout would pass infra-cache-max-rtt:
                      # keep this well below 300 / 4)

TMP=$(mktemp -d /tmp/make_captures.XXXXXX)
PIDS=()           # every background process we started
CAP_PID=""

cleanup() {
    local rc=$?
    set +e
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
        fi
    done
    for p in "${PIDS[@]}"; do
        # give it a moment, then force
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    ip link del "$VA" 2>/dev/null
    ip link del "pvc$$" 2>/dev/null   # eBPF VLAN fallback pairs, if not yet moved
    ip link del "pve$$" 2>/dev/null
    [[ -n ${BPFFS_MOUNTED:-} ]] && umount "$TMP/bpffs" 2>/dev/null
    rm -rf "$TMP"
    if [[ $rc -ne 0 ]]; then echo "make_captures: FAILED (exit $rc)" >&2; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsa() { ip netns exec "$NSA" "$@"; }
nsb() { ip netns exec "$NSB" "$@"; }

forget_pid() {
    local p=$1 q; local keep=()
    for q in "${PIDS[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

# start_capture NAME TCPDUMP-ARGS... : tcpdump in namespace b writing OUTDIR/NAME.pcap
start_capture() {
    local name=$1; shift
    local err="$TMP/tcpdump.$name.err"
    rm -f "$OUTDIR/$name.pcap"
    ip netns exec "$NSB" tcpdump -Z root -n -U --immediate-mode -B 65536 -s 0 "$@" -w "$OUTDIR/$name.pcap" 2>"$err" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    local i
    for i in $(seq 1 100); do
        if grep -q "listening on" "$err" 2>/dev/null; then
            sleep 0.2   # let the socket settle before traffic starts
            return 0
        fi
        kill -0 "$CAP_PID" 2>/dev/null || { cat "$err" >&2; die "tcpdump for $name exited early"; }
        sleep 0.05
    done
    cat "$err" >&2
    die "tcpdump for $name did not start listening within 5 s"
}

stop_capture() {   # stop_capture NAME [PID]
    local name=$1 pid=${2:-$CAP_PID}
    sleep 0.3   # let the last replies arrive
    kill -INT "$pid"
    wait "$pid" || true
    forget_pid "$pid"
    local stats
    stats=$(grep -E "packets (captured|received|dropped)" "$TMP/tcpdump.$name.err" | tr '\n' ',' | sed 's/,$//')
    [[ -s "$OUTDIR/$name.pcap" ]] || die "$name.pcap was not written"
    log "$name.pcap: tcpdump: $stats"
    PRODUCED+=("$name")
}

# ---------------------------------------------------------------- topology
log "creating namespaces $NSA / $NSB"
ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
for ns in "$NSA" "$NSB"; do
    ip -n "$ns" link set lo up
done
nsa sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
nsb sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip -n "$NSA" addr add "$A4/24" dev "$VA"
ip -n "$NSA" addr add "$A6/64" dev "$VA" nodad
ip -n "$NSB" addr add "$B4/24" dev "$VB"
ip -n "$NSB" addr add "$B6/64" dev "$VB" nodad
if [[ ${KEEP_OFFLOADS:-0} != 1 ]]; then
    # No TSO/GSO/GRO super-frames, and real checksums in the captured frames.
    nsa ethtool -K "$VA" tx off rx off tso off gso off gro off >/dev/null 2>&1 || log "warning: ethtool -K failed on $VA"
    nsb ethtool -K "$VB" tx off rx off tso off gso off gro off >/dev/null 2>&1 || log "warning: ethtool -K failed on $VB"
fi
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

# wait until the link is up and both families work (nodad: no DAD wait)
for i in $(seq 1 50); do
    if nsa ping -c1 -W1 -q "$B4" >/dev/null 2>&1 && nsa ping -6 -c1 -W1 -q "$B6" >/dev/null 2>&1; then
        break
    fi
    [[ $i -eq 50 ]] && die "veth link between namespaces did not come up"
    sleep 0.1
done
# forget the neighbours learned above, so every capture sees ARP / ND again
ip -n "$NSA" neigh flush dev "$VA" >/dev/null 2>&1 || true
ip -n "$NSB" neigh flush dev "$VB" >/dev/null 2>&1 || true

PRODUCED=()

# ---------------------------------------------------------------- ping
log "scenario: ping"
start_capture ping -i "$VB"
nsa ping -q -c 20 -i 0.05 "$B4" >/dev/null
nsa ping -6 -q -c 20 -i 0.05 "$B6" >/dev/null
nsa ping -q -s 3000 -c 3 -i 0.2 "$B4" >/dev/null        # IPv4 fragments
nsa ping -6 -q -s 3000 -c 3 -i 0.2 "$B6" >/dev/null     # IPv6 fragment headers
stop_capture ping

# ---------------------------------------------------------------- http
log "scenario: http"
mkdir -p "$TMP/www"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$TMP/www/blob.bin"
echo "hello from the test server" >"$TMP/www/index.html"
# --bind :: is dual-stack in python's http.server (IPv4-mapped for 198.51.100.2)
(cd "$TMP/www" && exec ip netns exec "$NSB" python3 -m http.server --bind :: 8080) >"$TMP/http.log" 2>&1 &
PIDS+=("$!")
for i in $(seq 1 100); do
    nsb curl -s -o /dev/null --max-time 1 "http://$B4:8080/index.html" && break
    [[ $i -eq 100 ]] && { cat "$TMP/http.log" >&2; die "http server did not come up"; }
    sleep 0.05
done
start_capture http -i "$VB"
for _ in 1 2 3; do
    nsa curl -sS -o /dev/null --max-time 20 "http://$B4:8080/blob.bin"
    nsa curl -sS -o /dev/null --max-time 20 "http://[$B6]:8080/blob.bin"
done
nsa curl -sS -o /dev/null --max-time 5 "http://$B4:8080/index.html"
nsa curl -sS -o /dev/null --max-time 5 "http://[$B6]:8080/missing"      # 404
nsa curl -sS -o /dev/null --max-time 5 -I "http://$B4:8080/blob.bin"    # HEAD
nsa curl -s -o /dev/null --max-time 2 "http://$B4:8081/" || true         # RST: nothing listens
nsa curl -s -o /dev/null --max-time 2 "http://[$B6]:8081/" || true
stop_capture http

# ---------------------------------------------------------------- dns (unbound)
log "scenario: dns"
BIGTXT=""
for i in $(seq 1 12); do BIGTXT+=" \"$(printf 'chunk%02d-%0240d' "$i" 0)\""; done
cat >"$TMP/root.hints" <<EOF
.                        3600000      NS    a.root.invalid.
a.root.invalid.          3600000      A     $DEAD4
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
    access-control: 0.0.0.0/0 refuse
    access-control: ::/0 refuse
    access-control: 127.0.0.0/8 allow
    access-control: 198.51.100.0/24 allow
    access-control: 2001:db8::/32 allow
    # iterator only: no DNSSEC validator, no trust anchor
    module-config: "iterator"
    # root hints point into the test subnet (unreachable anyway: no route out)
    root-hints: "$TMP/root.hints"
    do-not-query-localhost: no
    edns-buffer-size: 4096
    max-udp-size: 4096
    minimal-responses: no
    qname-minimisation: no
    # Everything not covered below is refused locally: no recursion at all.
    local-zone: "." refuse
    local-zone: "example.test." static
    local-data: "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"
    local-data: "example.test. 3600 IN NS ns.example.test."
    local-data: "example.test. 3600 IN MX 10 mail.example.test."
    local-data: "ns.example.test. 3600 IN A $B4"
    local-data: "ns.example.test. 3600 IN AAAA $B6"
    local-data: "www.example.test. 300 IN A 198.51.100.10"
    local-data: "www.example.test. 300 IN A 198.51.100.11"
    local-data: "www.example.test. 300 IN AAAA 2001:db8::10"
    local-data: "mail.example.test. 300 IN A 198.51.100.25"
    local-data: "mail.example.test. 300 IN AAAA 2001:db8::25"
    local-data: "alias.example.test. 300 IN CNAME www.example.test."
    local-data: 'txt.example.test. 300 IN TXT "v=spf1 -all"'
    local-data: 'big.example.test. 300 IN TXT$BIGTXT'
    local-data: "_sip._udp.example.test. 300 IN SRV 10 5 5060 www.example.test."
    local-zone: "refused.test." refuse
    # Upstream failures give SERVFAIL quickly: a server's first timeout is 200 ms, no
    # timeout grows past 300 ms, 2 retries; once a server has failed it stays marked down
    # (infra cache), so later queries get SERVFAIL at once.  The first query of a failing
    # zone takes ~0.4 s.  (These only concern the forwards below: no other upstream exists.)
    unknown-server-time-limit: 200
    infra-cache-max-rtt: 300
    outbound-msg-retry: 2
    # forwarded to an address nobody answers (ARP fails): first SERVFAIL after ~0.4 s
    local-zone: "slow.test." transparent
    # forwarded to a closed port on namespace b's loopback: SERVFAIL
    local-zone: "fail.test." transparent
    # forwarded to a local responder that answers after $DELAY_MS ms (TTL 0, never cached):
    # slow NOERROR answers (A and AAAA: one address, other types: NODATA)
    local-zone: "delay.test." transparent
forward-zone:
    name: "slow.test."
    forward-addr: $DEAD4
forward-zone:
    name: "fail.test."
    forward-addr: 127.0.0.1@5399
forward-zone:
    name: "delay.test."
    forward-addr: 127.0.0.1@5300
remote-control:
    control-enable: no
EOF
unbound-checkconf "$TMP/unbound.conf" >/dev/null || die "unbound config rejected"
# the delaying responder (namespace b, 127.0.0.1:5300, UDP only)
cat >"$TMP/delay_dns.py" <<'EOF'
import socket, struct, sys, threading, time
delay = int(sys.argv[1]) / 1000.0
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 5300))
ZONE = b"\x05delay\x04test\x00"
SOA_RDATA = b"\x02ns" + ZONE + b"\x01h" + ZONE + struct.pack("!IIIII", 1, 3600, 600, 86400, 0)
SOA = ZONE + struct.pack("!HHIH", 6, 1, 0, len(SOA_RDATA)) + SOA_RDATA

def answer(data, addr):
    time.sleep(delay)
    try:
        qid, flags = struct.unpack("!HH", data[:4])
        i = 12
        while data[i] != 0:
            i += 1 + data[i]
        question = data[12:i + 5]
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    except (IndexError, struct.error):
        return
    an, auth = b"", b""
    if qtype == 1:
        an = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + bytes([198, 51, 100, 200])
    elif qtype == 28:
        an = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 0, 16) + bytes(15) + b"\x01"
    else:
        auth = SOA   # NODATA (unbound wants the SOA, else it gives up on the server)
    head = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100), 1, 1 if an else 0,
                       1 if auth else 0, 0)
    sock.sendto(head + question + an + auth, addr)

while True:
    data, addr = sock.recvfrom(4096)
    threading.Thread(target=answer, args=(data, addr), daemon=True).start()
EOF
ip netns exec "$NSB" python3 "$TMP/delay_dns.py" "$DELAY_MS" >"$TMP/delay_dns.log" 2>&1 &
PIDS+=("$!")
ip netns exec "$NSB" unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.log" 2>&1 &
PIDS+=("$!"); UNBOUND_PID=$!
for i in $(seq 1 100); do
    if nsb kdig +short +timeout=1 +retry=0 @"$B4" www.example.test A 2>/dev/null | grep -q 198.51.100; then break; fi
    kill -0 "$UNBOUND_PID" 2>/dev/null || { cat "$TMP/unbound.log" >&2; die "unbound exited"; }
    [[ $i -eq 100 ]] && { cat "$TMP/unbound.log" >&2; die "unbound did not answer"; }
    sleep 0.05
done

# query file for dnsperf: existing names, NXDOMAIN, refused, random labels, SERVFAIL, slow
{
    for n in www mail ns alias txt; do
        echo "$n.example.test A"; echo "$n.example.test AAAA"
    done
    echo "example.test MX"; echo "example.test SOA"; echo "example.test NS"
    echo "txt.example.test TXT"; echo "_sip._udp.example.test SRV"
    for i in $(seq 1 40); do echo "nx$i-$RANDOM.example.test A"; done
    for i in $(seq 1 10); do echo "host$i.refused.test A"; done
    echo "q1.slow.test A"
    echo "q1.fail.test A"
    echo "q1.delay.test A"; echo "q2.delay.test AAAA"
} >"$TMP/queries.txt"

dns_queries() {   # a few dozen kdig queries from namespace a
    local srv proto
    for srv in "$B4" "$B6"; do
        for proto in +notcp +tcp; do
            for q in "www.example.test A" "www.example.test AAAA" "mail.example.test AAAA" \
                     "example.test MX" "example.test SOA" "alias.example.test A" \
                     "txt.example.test TXT" "_sip._udp.example.test SRV" \
                     "nonexistent.example.test A" "nope.example.test AAAA" \
                     "www.refused.test A"; do
                # shellcheck disable=SC2086
                nsa kdig +timeout=2 +retry=0 $proto @"$srv" $q >/dev/null 2>&1 || true
            done
        done
        # large answer: truncated without EDNS over UDP, fragmented with EDNS 4096, full over TCP
        nsa kdig +timeout=2 +retry=0 +noedns @"$srv" big.example.test TXT >/dev/null 2>&1 || true
        nsa kdig +timeout=2 +retry=0 +bufsize=4096 @"$srv" big.example.test TXT >/dev/null 2>&1 || true
        nsa kdig +timeout=2 +retry=0 +tcp @"$srv" big.example.test TXT >/dev/null 2>&1 || true
        # several queries on one TCP connection: NOERROR, NODATA, NXDOMAIN, REFUSED, SERVFAIL
        nsa kdig +timeout=2 +retry=0 +tcp +keepopen @"$srv" \
            www.example.test A  www.example.test TXT  example.test AAAA \
            gone.example.test A  www.refused.test A  k.fail.test A  k.delay.test A >/dev/null 2>&1 || true
        # NODATA, SERVFAIL (fast after the first), slow NOERROR over UDP
        for q in "www.example.test TXT" "mail.example.test MX" "u.fail.test A" "u.slow.test AAAA" \
                 "u.delay.test A" "u.delay.test TXT"; do
            # shellcheck disable=SC2086
            nsa kdig +timeout=2 +retry=0 @"$srv" $q >/dev/null 2>&1 || true
        done
    done
}

start_capture dns -i "$VB"
# SERVFAIL/slow: forwarded to 198.51.100.99 which nobody answers (in parallel)
ip netns exec "$NSA" kdig +timeout=6 +retry=0 @"$B4" a.slow.test A >/dev/null 2>&1 &
SLOW_PID=$!; PIDS+=("$SLOW_PID")
dns_queries
DNSPERF4_ARGS=(-s "$B4" -x "$DNSPERF4_PORT" -d "$TMP/queries.txt" -l 3 -Q 2000 -c 4 -t 1)
DNSPERF6_ARGS=(-s "$B6" -x "$DNSPERF6_PORT" -d "$TMP/queries.txt" -l 1 -Q 1000 -t 1)
nsa dnsperf "${DNSPERF4_ARGS[@]}" >"$TMP/dnsperf4.txt" 2>"$TMP/dnsperf4.err" \
    || { cat "$TMP/dnsperf4.txt" "$TMP/dnsperf4.err" >&2; die "dnsperf (IPv4) failed"; }
nsa dnsperf "${DNSPERF6_ARGS[@]}" >"$TMP/dnsperf6.txt" 2>"$TMP/dnsperf6.err" \
    || { cat "$TMP/dnsperf6.txt" "$TMP/dnsperf6.err" >&2; die "dnsperf (IPv6) failed"; }
wait "$SLOW_PID" || true; forget_pid "$SLOW_PID"
{
    echo "### dnsperf IPv4: dnsperf ${DNSPERF4_ARGS[*]} (UDP source ports $DNSPERF4_PORT-$((DNSPERF4_PORT + 3)))"
    cat "$TMP/dnsperf4.txt"
    echo "### dnsperf IPv6: dnsperf ${DNSPERF6_ARGS[*]} (UDP source port $DNSPERF6_PORT)"
    cat "$TMP/dnsperf6.txt"
} >"$OUTDIR/dnsperf.txt"
stop_capture dns
log "dnsperf v4: $(grep -E 'Queries (sent|completed)' "$TMP/dnsperf4.txt" | tr -s ' \n' ' ')"
log "dnsperf v6: $(grep -E 'Queries (sent|completed)' "$TMP/dnsperf6.txt" | tr -s ' \n' ' ')"

# ---------------------------------------------------------------- any (SLL / SLL2)
ping_and_dns() {
    nsa ping -q -c 10 -i 0.05 "$B4" >/dev/null
    nsa ping -6 -q -c 10 -i 0.05 "$B6" >/dev/null
    nsa ping -q -s 2000 -c 2 -i 0.2 "$B4" >/dev/null
    local q
    for q in "www.example.test A" "www.example.test AAAA" "nx.example.test A" "txt.example.test TXT"; do
        # shellcheck disable=SC2086
        nsa kdig +timeout=2 +retry=0 @"$B4" $q >/dev/null 2>&1 || true
        # shellcheck disable=SC2086
        nsa kdig +timeout=2 +retry=0 +tcp @"$B6" $q >/dev/null 2>&1 || true
    done
    # traffic inside namespace b over its loopback (shows up on "any" only)
    nsb ping -q -c 3 -i 0.05 127.0.0.1 >/dev/null
    nsb kdig +timeout=2 +retry=0 @"$B4" mail.example.test A >/dev/null 2>&1 || true
}
log "scenario: any (LINUX_SLL)"
start_capture any -i any -y LINUX_SLL
ping_and_dns
stop_capture any
log "scenario: any_sll2 (LINUX_SLL2)"
start_capture any_sll2 -i any -y LINUX_SLL2
ping_and_dns
stop_capture any_sll2

# ---------------------------------------------------------------- vlan / QinQ
# Preferred: kernel VLAN devices (8021q) on both veth ends, captured on the
# parent veth.  Kernels without 8021q (e.g. minimal VM kernels) get the same
# frames another way: two extra veth pairs whose tc clsact hooks run tiny eBPF
# programs calling bpf_skb_vlan_push on egress and bpf_skb_vlan_pop on ingress.
# tcpdump's tap sees ingress frames before tc ingress and egress frames after
# tc egress, so every captured frame carries the tags; the two captures are
# merged by time with mergecap.
log "scenario: vlan (802.1Q 100, QinQ 802.1ad 200 + 802.1Q 300)"
VLAN_MODE=kernel
if ! ip -n "$NSA" link add link "$VA" name "$VA.100" type vlan id 100 2>/dev/null; then
    VLAN_MODE=bpf
fi

vlan_traffic() {
    nsa ping -q -c 5 -i 0.05 "$VB4" >/dev/null
    nsa ping -6 -q -c 5 -i 0.05 "$V6B" >/dev/null
    nsa ping -q -c 5 -i 0.05 "$QB4" >/dev/null
    nsa ping -6 -q -c 5 -i 0.05 "$Q6B" >/dev/null
    nsa ping -q -s 2000 -c 2 -i 0.2 "$QB4" >/dev/null        # fragments inside QinQ
    nsa ping -6 -q -s 2000 -c 2 -i 0.2 "$V6B" >/dev/null     # fragment headers inside 802.1Q
    nsa curl -sS -o /dev/null --max-time 5 "http://$VB4:8080/index.html"
    nsa curl -sS -o /dev/null --max-time 5 "http://[$V6B]:8080/index.html"
    nsa curl -sS -o /dev/null --max-time 5 "http://$QB4:8080/index.html"
    nsa curl -sS -o /dev/null --max-time 5 "http://[$Q6B]:8080/index.html"
    nsa curl -sS -o /dev/null --max-time 10 -r 0-199999 "http://$QB4:8080/blob.bin"
    nsa curl -sS -o /dev/null --max-time 10 -r 0-99999 "http://[$V6B]:8080/blob.bin"
}

wait_vlan_up() {
    local i
    for i in $(seq 1 50); do
        if nsa ping -c1 -W1 -q "$VB4" >/dev/null 2>&1 && nsa ping -c1 -W1 -q "$QB4" >/dev/null 2>&1 \
           && nsa ping -6 -c1 -W1 -q "$V6B" >/dev/null 2>&1 && nsa ping -6 -c1 -W1 -q "$Q6B" >/dev/null 2>&1; then
            ip -n "$NSA" neigh flush all >/dev/null 2>&1 || true
            ip -n "$NSB" neigh flush all >/dev/null 2>&1 || true
            return 0
        fi
        sleep 0.1
    done
    die "VLAN / QinQ links did not come up ($VLAN_MODE mode)"
}

if [[ $VLAN_MODE == kernel ]]; then
    log "vlan: using kernel 802.1Q/802.1ad devices on $VA/$VB"
    ip -n "$NSB" link add link "$VB" name "$VB.100" type vlan id 100
    for side in a b; do
        if [[ $side == a ]]; then ns=$NSA; dev=$VA; v4=$VA4; v6=$V6A; q4=$QA4; q6=$Q6A
        else ns=$NSB; dev=$VB; v4=$VB4; v6=$V6B; q4=$QB4; q6=$Q6B; fi
        ip -n "$ns" link add link "$dev" name "$dev.200" type vlan proto 802.1ad id 200
        ip -n "$ns" link add link "$dev.200" name "$dev.300" type vlan id 300
        ip -n "$ns" addr add "$v4/27" dev "$dev.100"
        ip -n "$ns" addr add "$v6/64" dev "$dev.100" nodad
        ip -n "$ns" addr add "$q4/27" dev "$dev.300"
        ip -n "$ns" addr add "$q6/64" dev "$dev.300" nodad
        ip -n "$ns" link set "$dev.100" up
        ip -n "$ns" link set "$dev.200" up
        ip -n "$ns" link set "$dev.300" up
    done
    wait_vlan_up
    start_capture vlan -i "$VB"
    vlan_traffic
    stop_capture vlan
else
    log "vlan: kernel has no 802.1Q support; tagging with tc clsact + eBPF (bpf_skb_vlan_push/pop)"
    for t in tc mergecap mount umount; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' is needed for the eBPF VLAN fallback"
    done
    BPFFS="$TMP/bpffs"
    mkdir -p "$BPFFS"
    mount -t bpf bpf "$BPFFS" || die "cannot mount a bpf filesystem (needed for the eBPF VLAN fallback)"
    BPFFS_MOUNTED=1
    cat >"$TMP/vlan_bpf.py" <<'EOF'
# Load and pin four tiny BPF_PROG_TYPE_SCHED_CLS programs (direct action).
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}[os.uname().machine]
BPF_PROG_LOAD, BPF_OBJ_PIN, SCHED_CLS = 5, 6, 3
H_VLAN_PUSH, H_VLAN_POP = 18, 19

def ins(op, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)

def mov_imm(d, v): return ins(0xB7, d, 0, 0, v)   # BPF_ALU64|BPF_MOV|BPF_K
def mov_reg(d, s): return ins(0xBF, d, s)         # BPF_ALU64|BPF_MOV|BPF_X
def call(h): return ins(0x85, imm=h)              # BPF_JMP|BPF_CALL
EXIT = ins(0x95)                                  # BPF_JMP|BPF_EXIT

def push(tags):  # innermost tag first; returns TC_ACT_OK
    code = mov_reg(6, 1)
    for tpid, vid in tags:
        be_tpid = struct.unpack("<H", struct.pack(">H", tpid))[0]   # __be16 argument
        code += mov_reg(1, 6) + mov_imm(2, be_tpid) + mov_imm(3, vid) + call(H_VLAN_PUSH)
    return code + mov_imm(0, 0) + EXIT

def pop(n):
    code = mov_reg(6, 1)
    for _ in range(n):
        code += mov_reg(1, 6) + call(H_VLAN_POP)
    return code + mov_imm(0, 0) + EXIT

def bpf(cmd, attr):
    r = libc.syscall(NR_BPF, cmd, attr, len(attr))
    return r, ctypes.get_errno()

def load(code, name):
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQII16s", attr, 0, SCHED_CLS, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(lic), 1, len(log),
                     ctypes.addressof(log), 0, 0, name.encode()[:15])
    fd, err = bpf(BPF_PROG_LOAD, attr)
    if fd < 0:
        sys.exit(f"BPF_PROG_LOAD {name}: {os.strerror(err)}\n{log.value.decode(errors='replace')}")
    return fd

def pin(fd, path):
    p = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<QII", attr, 0, ctypes.addressof(p), fd, 0)
    r, err = bpf(BPF_OBJ_PIN, attr)
    if r != 0:
        sys.exit(f"BPF_OBJ_PIN {path}: {os.strerror(err)}")

d = sys.argv[1]
pin(load(push([(0x8100, 100)]), "pv_push100"), d + "/push100")
pin(load(push([(0x8100, 300), (0x88A8, 200)]), "pv_pushqinq"), d + "/pushqinq")
pin(load(pop(1), "pv_pop1"), d + "/pop1")
pin(load(pop(2), "pv_pop2"), d + "/pop2")
EOF
    python3 "$TMP/vlan_bpf.py" "$BPFFS" || die "loading the eBPF VLAN programs failed"
    VC="pvc$$" VD="pvd$$"   # 802.1Q 100 pair
    VE="pve$$" VF="pvf$$"   # QinQ pair
    ip link add "$VC" type veth peer name "$VD"
    ip link add "$VE" type veth peer name "$VF"
    ip link set "$VC" netns "$NSA"; ip link set "$VE" netns "$NSA"
    ip link set "$VD" netns "$NSB"; ip link set "$VF" netns "$NSB"
    for spec in "$NSA $VC $VA4 $V6A push100 pop1" "$NSB $VD $VB4 $V6B push100 pop1" \
                "$NSA $VE $QA4 $Q6A pushqinq pop2" "$NSB $VF $QB4 $Q6B pushqinq pop2"; do
        read -r ns dev v4 v6 egress ingress <<<"$spec"
        ip -n "$ns" addr add "$v4/27" dev "$dev"
        ip -n "$ns" addr add "$v6/64" dev "$dev" nodad
        if [[ ${KEEP_OFFLOADS:-0} != 1 ]]; then
            ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
        fi
        tc -n "$ns" qdisc add dev "$dev" clsact
        tc -n "$ns" filter add dev "$dev" egress bpf da object-pinned "$BPFFS/$egress"
        tc -n "$ns" filter add dev "$dev" ingress bpf da object-pinned "$BPFFS/$ingress"
        ip -n "$ns" link set "$dev" up
    done
    wait_vlan_up
    start_capture vlan_q100 -i "$VD"; CAP_Q100=$CAP_PID
    start_capture vlan_qinq -i "$VF"; CAP_QINQ=$CAP_PID
    vlan_traffic
    stop_capture vlan_q100 "$CAP_Q100"
    stop_capture vlan_qinq "$CAP_QINQ"
    mergecap -F pcap -w "$OUTDIR/vlan.pcap" "$OUTDIR/vlan_q100.pcap" "$OUTDIR/vlan_qinq.pcap"
    rm -f "$OUTDIR/vlan_q100.pcap" "$OUTDIR/vlan_qinq.pcap"
    PRODUCED=("${PRODUCED[@]/vlan_q100}"); PRODUCED=("${PRODUCED[@]/vlan_qinq}")
    PRODUCED+=(vlan)
fi
if command -v tshark >/dev/null 2>&1; then
    ntag=$(tshark -n -r "$OUTDIR/vlan.pcap" -Y vlan 2>/dev/null | wc -l)
    nqinq=$(tshark -n -r "$OUTDIR/vlan.pcap" -Y ieee8021ad 2>/dev/null | wc -l)
    log "vlan.pcap: $ntag frames with an 802.1Q tag, $nqinq of them inside an 802.1ad tag"
    [[ $ntag -gt 0 && $nqinq -gt 0 ]] || die "vlan.pcap has no VLAN-tagged frames (tag offload stripped them?)"
fi

# ---------------------------------------------------------------- report
echo "produced in $OUTDIR:"
for name in "${PRODUCED[@]}"; do
    [[ -n $name ]] || continue
    f="$OUTDIR/$name.pcap"
    n=$(capinfos -c -M "$f" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    enc=$(capinfos -E "$f" 2>/dev/null | awk -F: '/encapsulation/ {sub(/^ +/,"",$2); print $2}')
    printf '  %-15s %7s packets  %s\n' "$name.pcap" "$n" "$enc"
done
[[ -f "$OUTDIR/dnsperf.txt" ]] && printf '  %-15s dnsperf reports for dns.pcap\n' "dnsperf.txt"
