#!/usr/bin/env python3
r"""Independent oracle for the "dns" summary, computed only from tshark's dissection.

Usage:
    python3 scripts/dns_oracle.py FILE [--host-spec CIDR[,CIDR...]] [--dns-port PORT ...]
                                       [--xact-ttl-ms 5000] [--bpf EXPR] [--check-ek]
    python3 scripts/dns_oracle.py --self-test

Prints one JSON object.  --bpf first keeps only the frames a BPF expression
matches (tcpdump -r ... -w, nanosecond timestamps kept), e.g. to look only at
one client's ports.  Nothing in here uses code from this project: every
number comes from tshark's field output, with pktvisor's counting rules
(DnsMetricsBucket::process_dns_layer, aggregateDomain, the transaction
manager) applied on top of it.

What is a DNS message
---------------------
* DNS ports are 53, 5353, 5355, 53000 (pktvisor's DnsLayer::isDnsPort,
  libs/visor_dns/DnsLayer.h, lists all four in product code) and every --dns-port.  tshark is told to
  dissect all of them as plain DNS (`-d udp.port==P,dns -d tcp.port==P,dns`;
  that also turns mDNS/LLMNR on 5353/5355 into "dns", as pktvisor parses
  them).  A message counts when tshark dissects it as `dns` and the source or
  destination port of its transport is a DNS port.
* Every DNS message occurrence counts: a TCP segment can complete several
  messages and a message can span segments.  tshark's TCP reassembly (on by
  default) shows each message in the frame that completes it, and that
  frame's timestamp is the message's time.  Out-of-order reassembly is
  switched ON (`-o tcp.reassemble_out_of_order:TRUE`, off by default in
  tshark 4.0), as pktvisor's TCP reassembly (PcapPlusPlus TcpReassembly)
  buffers out-of-order segments too: without it tshark drops the data of a
  segment that arrives after a later one ("TCP Retransmission" filling a
  gap), which loses 27 replies in dns_udp_tcp_random.pcap.  Data sent twice
  (real retransmissions) is still dissected once.
* IP fragments: IP reassembly is OFF (`-o ip.defragment:FALSE -o
  ipv6.defragment:FALSE`), because pktvisor has none: PcapPlusPlus hands the
  payload of any IPv4 fragment (MF set or offset != 0) and of an IPv6 packet
  with a fragment header to a PayloadLayer, so a fragmented DNS message is
  never seen as DNS.  Note that with reassembly off tshark still dissects the
  FIRST fragment as (truncated, malformed) DNS; the oracle drops such frames
  explicitly (counted in skipped.ip_fragment).  An IPv6 "atomic fragment"
  (fragment header with offset 0 and M=0, RFC 6946) is treated as not
  fragmented.
* The transport must directly follow the outermost IP header (and its IPv6
  extension headers).  DNS that tshark finds quoted inside an ICMP/ICMPv6
  error, or inside a tunnel, is not counted (skipped.icmp_quoted /
  skipped.nested).
* Safety net: tshark could hand a frame on a DNS port to another dissector
  registered for the other port.  (tshark 4.0 prefers the Decode-As entries
  given here, so this was never seen, also not for client ports that belong
  to other dissectors, e.g. 44818 EtherNet/IP, which the self-test covers.)
  Such frames (a DNS port, payload after UDP/TCP dissected as something other
  than dns/data) are counted per protocol in "undissected_dns_port_frames",
  and tshark runs again with those protocols disabled (--disable-protocol,
  listed in "disabled_protocols").

Counters (pktvisor's)
---------------------
total, queries (QR=0), replies (QR=1), udp/tcp, ipv4/ipv6 count messages.
noerror/nxdomain/srvfail/refused count replies by the header RCODE (4 bits;
the EDNS extended RCODE is ignored, as in pktvisor); nodata = NOERROR replies
with ANCOUNT 0.  top_rcode is over replies.  Everything name-based uses the
first question only, and only messages that have one: top_qtype, qnames
(distinct names), top_qname2/3, top_nxdomain/srvfail/refused/nodata.
Names are tshark's text, ASCII lower-cased, no trailing dot, the root ("<Root>"
in tshark) is ".".  tshark 4.0 escapes the bytes below 0x20 inside a label
(\000, \037, \t, ...) but prints '.', backslash, space and bytes >= 0x80 as they
are; so a '.' inside a label reads as a label separator, as in pktvisor
(PcapPlusPlus joins the raw labels with '.').
top_udp_ports: for every message, the source port if the destination port is
a DNS port, else the destination port (UDP and TCP alike).
query_ecs / top_query_ecs: queries carrying an EDNS Client Subnet option
(family 1 or 2); the first such option's address as tshark prints it (the
address bytes zero-filled to the family's length).

Transactions
------------
A query opens (transport, client ip, client port, server ip, server port, id);
a reply closes the open query with (its transport, dst, dst port, src, src
port, id).  Before each message is processed, every open query older than the
TTL (message time - query time > TTL) is timed out; a reply then matches if
its query is still open (reply time - query time <= TTL).  A second query
with the same key replaces the first (xact_replaced, not counted otherwise).
At the end of the file the open queries older than the TTL at the last
message's time are timed out; the others could still be answered after the
capture ended: they are not counted, and xact_open_at_end says how many there
were (pktvisor itself never counts open queries at the end).  Direction of a matched transaction is the reply
packet's direction (DnsMetricsBucket::new_dns_transaction), which pktvisor's
PcapInputStream::process_raw_packet decides destination first: the reply's
destination in the host spec -> "out" (the host asked), else its source in the
host spec -> "in" (the host answered), else neither (only xact_total).  A reply
between two host addresses is therefore "out".  Times are exact integers: floor((reply
frame.time_epoch - query frame.time_epoch) * 1e6) from the decimal strings.
tshark_response_to is tshark's own matching for comparison: the number of
counted replies that carry dns.response_to (tshark matches on id and
conversation, without a TTL).

Several messages in one frame
-----------------------------
tshark's field output (-T fields -E occurrence=a) joins the values of a
field over all the frame's messages with the aggregator, here the control
character 0x1F, which tshark never prints raw inside a name (it escapes
every byte < 0x20; the self-test checks it), so names with commas or '|'
are exact.  Header fields (dns.id,
dns.flags, dns.count.*) occur once per message; the question names and types
are split between the messages by QDCOUNT when that is provably exact (the
number of dissected questions equals the sum of the QDCOUNTs).  Any frame
where it is not (a truncated question, or EDNS Client Subnet options in a
multi-message frame) is looked up again with `tshark -T ek`, which keeps one
JSON object per message (only those frames; the summary lists how many in
"ek_frames").  --check-ek does that for every multi-message frame and
fails if the two agree differently.
"""

import argparse
import collections
import heapq
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SEP = "\x1f"  # aggregator between occurrences of one field
DEFAULT_DNS_PORTS = (53, 5353, 5355, 53000)  # DnsLayer::isDnsPort

FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "dns.id",
    "dns.flags",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.zones",
    "dns.count.prerequisites",
    "dns.qry.name",
    "dns.qry.type",
    "dns.opt.client.family",
    "dns.opt.client.addr4",
    "dns.opt.client.addr6",
    "dns.response_to",
]
NCOLS = len(FIELDS)
(I_NUM, I_TIME, I_PROTO, I_IP_SRC, I_IP_DST, I_IP_MF, I_IP_OFF, I_IP6_SRC, I_IP6_DST,
 I_FRAG6_OFF, I_FRAG6_MORE, I_UDP_SPORT, I_UDP_DPORT, I_TCP_SPORT, I_TCP_DPORT, I_ID, I_FLAGS,
 I_QD, I_AN, I_ZONES, I_PREREQ, I_QNAME, I_QTYPE, I_ECS_FAM, I_ECS4, I_ECS6, I_RESPONSE_TO) = range(NCOLS)

RCODE_NOERROR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 0, 2, 3, 5
OPCODE_UPDATE = 5

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def die(msg, code=2):
    print(f"dns_oracle: error: {msg}", file=sys.stderr)
    sys.exit(code)


def warn(msg):
    print(f"dns_oracle: warning: {msg}", file=sys.stderr)


def parse_epoch_ns(text):
    """'1567706414.599964000' -> 1567706414599964000, exactly (no floats)."""
    text = text.strip()
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    if "." in text:
        sec, frac = text.split(".", 1)
    else:
        sec, frac = text, ""
    if not sec:
        sec = "0"
    frac = (frac + "000000000")[:9]
    ns = int(sec) * 1_000_000_000 + int(frac)
    return -ns if neg else ns


def is_dissector_note(name):
    """tshark's placeholder for a name it could not read ("<Name contains a pointer that
    loops>", "<Unknown extended label>"): a question whose name does not read, which pktvisor
    (and we) leave without a name.  "<Root>" is the root name, not a note."""
    return name.startswith("<") and name.endswith(">") and " " in name


def norm_name(name):
    """tshark's question name -> pktvisor's key: ASCII lower-case, no trailing dot, root '.'."""
    if name == "<Root>" or name == "":
        return "."
    name = name.translate(_ASCII_LOWER)
    if len(name) > 1 and name.endswith(".") and not name.endswith("\\."):
        name = name[:-1]
    return name


def aggregate_domain(name):
    """pktvisor's aggregateDomain(name, suffix 0) -> (qname2, qname3); qname3 may be ''."""
    n = len(name)
    if n < 5:
        return name, ""
    end = n - 2 if name.endswith(".") else None

    def rfind_upto(upto):  # last '.' at index <= upto (anywhere when upto is None)
        if upto is None:
            return name.rfind(".")
        if upto < 0:
            return -1
        return name.rfind(".", 0, upto + 1)

    q2 = q3 = name
    first = rfind_upto(end)
    if first > 0:
        second = rfind_upto(first - 1)
        if second >= 0:
            q2 = name[second:]
            if second > 0:
                third = rfind_upto(second - 1)
                if third >= 0:
                    q3 = name[third:]
        else:
            q3 = ""
    return q2, q3


AGGREGATE_CASES = [
    ("biz.foo.bar.com", ".bar.com", ".foo.bar.com"),
    ("a.com", "a.com", ""),
    ("foo.bar.com", ".bar.com", "foo.bar.com"),
    ("a.b.c", ".b.c", "a.b.c"),
    (".b.c", ".b.c", ""),
    (".", ".", ""),
    # further expectations from pktvisor's own unit tests
    ("abcdefg.com.", "abcdefg.com.", ""),
    ("..", "..", ""),
    ("a", "a", ""),
    ("a.", "a.", ""),
    ("foo.bar.com.", ".bar.com.", "foo.bar.com."),
    (".foo.bar.com", ".bar.com", ".foo.bar.com"),
]


def parse_host_spec(spec):
    nets = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as e:
            die(f"bad host spec entry {part!r}: {e}")
    return nets


class HostSpec:
    def __init__(self, nets):
        self.nets = nets
        self.cache = {}

    def contains(self, addr_text):
        hit = self.cache.get(addr_text)
        if hit is None:
            try:
                addr = ipaddress.ip_address(addr_text)
                hit = any(addr.version == n.version and addr in n for n in self.nets)
            except ValueError:
                hit = False
            self.cache[addr_text] = hit
        return hit


def split_occ(value):
    return value.split(SEP) if value else []


def tshark_path():
    t = shutil.which("tshark")
    if not t:
        die("tshark not found in PATH (apt-get install tshark)")
    return t


def base_cmd(path, ports, disabled):
    cmd = [tshark_path(), "-n", "-r", path,
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.reassemble_out_of_order:TRUE"]
    for p in sorted(ports):
        cmd += ["-d", f"udp.port=={p},dns", "-d", f"tcp.port=={p},dns"]
    for proto in sorted(disabled):
        cmd += ["--disable-protocol", proto]
    return cmd


def apply_bpf(path, expr, tmpdir):
    tcpdump = shutil.which("tcpdump")
    if not tcpdump:
        die("tcpdump is required for --bpf but was not found in PATH")
    out = os.path.join(tmpdir, "filtered.pcap")
    cmd = [tcpdump, "--time-stamp-precision=nano", "-r", path, "-w", out, expr]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        die(f"tcpdump BPF filtering failed (exit {res.returncode}): {res.stderr.strip()}")
    return out


def read_stderr(errf):
    errf.seek(0)
    return "\n".join(line for line in errf.read().splitlines()
                     if line.strip() and "could be dangerous" not in line)


# ----------------------------------------------------------------------------
# summary state


class Summary:
    def __init__(self, host_spec, ttl_ms):
        self.hs = HostSpec(host_spec)
        self.ttl_ns = int(ttl_ms) * 1_000_000
        self.c = dict(total=0, queries=0, replies=0, udp=0, tcp=0, ipv4=0, ipv6=0,
                      noerror=0, nxdomain=0, srvfail=0, refused=0, nodata=0)
        self.top = {k: collections.defaultdict(int)
                    for k in ("top_qtype", "top_rcode", "top_qname2", "top_qname3",
                              "top_nxdomain", "top_srvfail", "top_refused", "top_nodata",
                              "top_udp_ports", "top_query_ecs")}
        self.qnames = set()
        self.name_cache = {}  # tshark's name -> (name, qname2, qname3)
        self.query_ecs = 0
        self.last_ts_ns = None
        self.x = dict(xact_total=0, xact_timed_out=0, xact_in=0, xact_out=0,
                      xact_open_at_end=0, xact_replaced=0, xact_unmatched_replies=0)
        self.xact_in_us = []
        self.xact_out_us = []
        self.open = {}     # key -> (start_ns, serial)
        self.heap = []     # (start_ns, serial, key), lazily cleaned
        self.serial = 0
        self.response_to = 0
        self.skipped = dict(ip_fragment=0, icmp_quoted=0, nested=0, not_dns_port=0, no_ip=0,
                            short_header=0)
        self.frames = 0
        self.multi_frames = 0
        self.stolen = {}   # protocol -> frames on a DNS port dissected as it
        self.deferred = []  # (frame number, [(qr, rcode, ancount, id)]) to look up with -T ek

    @staticmethod
    def bump(d, key, n=1):
        d[key] = d.get(key, 0) + n

    # -- per message, header part (order-dependent: transactions)
    def header(self, l3, l4, src, sport, dst, dport, port_metric, mid, flags, ancount, ts_ns):
        c = self.c
        qr = (flags >> 15) & 1
        rcode = flags & 0xF
        c["total"] += 1
        c[l3] += 1
        c[l4] += 1
        self.top["top_udp_ports"][port_metric] += 1
        if qr:
            c["replies"] += 1
            self.top["top_rcode"][rcode] += 1
            if rcode == RCODE_NOERROR:
                c["noerror"] += 1
                if ancount == 0:
                    c["nodata"] += 1
            elif rcode == RCODE_NXDOMAIN:
                c["nxdomain"] += 1
            elif rcode == RCODE_SERVFAIL:
                c["srvfail"] += 1
            elif rcode == RCODE_REFUSED:
                c["refused"] += 1
        else:
            c["queries"] += 1
        self.xact(l4, src, sport, dst, dport, qr, mid, ts_ns)
        return qr, rcode

    # -- per message, name part (order-independent)
    def names(self, qr, rcode, ancount, qname, qtype, ecs):
        top = self.top
        if qname is not None and is_dissector_note(qname):
            qname = None
        if qname is not None:
            hit = self.name_cache.get(qname)
            if hit is None:
                if len(self.name_cache) > 1_000_000:
                    self.name_cache.clear()
                name = norm_name(qname)
                hit = self.name_cache[qname] = (name,) + aggregate_domain(name)
                self.qnames.add(name)
            name, q2, q3 = hit
            if qtype is not None:
                top["top_qtype"][qtype] += 1
            if qr:
                if rcode == RCODE_SERVFAIL:
                    top["top_srvfail"][name] += 1
                elif rcode == RCODE_NXDOMAIN:
                    top["top_nxdomain"][name] += 1
                elif rcode == RCODE_REFUSED:
                    top["top_refused"][name] += 1
                elif rcode == RCODE_NOERROR and ancount == 0:
                    top["top_nodata"][name] += 1
            top["top_qname2"][q2] += 1
            if q3:
                top["top_qname3"][q3] += 1
        if not qr and ecs:
            self.query_ecs += 1
            top["top_query_ecs"][ecs] += 1

    # -- transactions
    def purge(self, now_ns):
        heap, opened = self.heap, self.open
        limit = now_ns - self.ttl_ns
        while heap and heap[0][0] < limit:
            start, serial, key = heapq.heappop(heap)
            cur = opened.get(key)
            if cur is not None and cur[1] == serial:
                del opened[key]
                self.x["xact_timed_out"] += 1

    def xact(self, l4, src, sport, dst, dport, qr, mid, ts_ns):
        self.last_ts_ns = ts_ns
        self.purge(ts_ns)
        if not qr:
            key = (l4, src, sport, dst, dport, mid)
            self.serial += 1
            if key in self.open:
                self.x["xact_replaced"] += 1
            self.open[key] = (ts_ns, self.serial)
            heapq.heappush(self.heap, (ts_ns, self.serial, key))
            return
        key = (l4, dst, dport, src, sport, mid)
        cur = self.open.pop(key, None)
        if cur is None:
            self.x["xact_unmatched_replies"] += 1
            return
        dur_ns = ts_ns - cur[0]
        if dur_ns > self.ttl_ns:
            self.x["xact_timed_out"] += 1
            return
        us = dur_ns // 1000
        self.x["xact_total"] += 1
        # The reply's direction, destination first (PcapInputStream::process_raw_packet):
        # to a host address -> toHost -> xact out; from one -> fromHost -> xact in.
        if self.hs.contains(dst):
            self.x["xact_out"] += 1
            self.xact_out_us.append(us)
        elif self.hs.contains(src):
            self.x["xact_in"] += 1
            self.xact_in_us.append(us)

    def finish(self):
        if self.last_ts_ns is not None:
            self.purge(self.last_ts_ns)
        self.x["xact_open_at_end"] = len(self.open)
        self.open.clear()
        self.heap.clear()

    def result(self, extra):
        def ordered(d):
            return {str(k): v for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))}

        out = dict(self.c)
        out["top_qtype"] = ordered(self.top["top_qtype"])
        out["top_rcode"] = ordered(self.top["top_rcode"])
        out["qnames"] = len(self.qnames)
        for k in ("top_qname2", "top_qname3", "top_nxdomain", "top_srvfail", "top_refused",
                  "top_nodata", "top_udp_ports"):
            out[k] = ordered(self.top[k])
        out["xact_total"] = self.x["xact_total"]
        out["xact_timed_out"] = self.x["xact_timed_out"]
        out["xact_in"] = self.x["xact_in"]
        out["xact_out"] = self.x["xact_out"]
        out["xact_open_at_end"] = self.x["xact_open_at_end"]
        out["xact_replaced"] = self.x["xact_replaced"]
        out["xact_unmatched_replies"] = self.x["xact_unmatched_replies"]
        out["xact_in_us"] = self.xact_in_us
        out["xact_out_us"] = self.xact_out_us
        out["xact_in_histogram_us"] = pktvisor_histogram(self.xact_in_us)
        out["xact_out_histogram_us"] = pktvisor_histogram(self.xact_out_us)
        out["query_ecs"] = self.query_ecs
        out["top_query_ecs"] = ordered(self.top["top_query_ecs"])
        out["tshark_response_to"] = self.response_to
        out["dns_frames"] = self.frames
        out["multi_message_frames"] = self.multi_frames
        out["skipped"] = dict(self.skipped)
        out.update(extra)
        return out


def pktvisor_histogram(values):
    """pktvisor's histogram of a sketch, from the exact values: Sturges' rule gives
    1 + floor(log2(n)) buckets; step = max // buckets; bucket i's edge is split + 1 with split
    starting at step, growing by step and capped at max; each bucket counts the values below its
    edge, keyed by edge - 1 (equal keys collapse); "+Inf" counts all.  None when empty."""
    n = len(values)
    if n == 0:
        return None
    top = max(values)
    bins = 1 + (n.bit_length() - 1)
    step = top // bins
    split = step
    buckets = {}
    for _ in range(bins):
        edge = split + 1
        buckets[str(edge - 1)] = sum(1 for v in values if v < edge)
        split = min(split + step, top)
    buckets["+Inf"] = n
    return {"buckets": buckets}


# ----------------------------------------------------------------------------
# one frame of field output


_LAYOUTS = {}  # frame.protocols -> (kind, l3, transport, ipv6 fragment header, next token)


def frame_layout(protocols):
    """Classify a frame by its frame.protocols string (cached: the strings repeat).

    kind: "dns" (DNS right after the transport that follows the outermost IP
    header), "no_ip", "icmp_quoted", "nested" (DNS somewhere else), or "other"
    (no DNS; `nxt` is then the token after the transport, if any).
    """
    hit = _LAYOUTS.get(protocols)
    if hit is not None:
        return hit
    tokens = protocols.split(":")
    has_dns = "dns" in tokens
    l3_i = None
    for i, t in enumerate(tokens):
        if t == "ip" or t == "ipv6":
            l3_i = i
            break
    if l3_i is None:
        hit = ("no_ip" if has_dns else "other", None, None, False, None)
    else:
        l3 = tokens[l3_i]
        j = l3_i + 1
        frag6 = False
        while j < len(tokens) and tokens[j].startswith("ipv6."):
            if tokens[j] == "ipv6.fraghdr":
                frag6 = True
            j += 1
        tr = tokens[j] if j < len(tokens) and tokens[j] in ("udp", "tcp") else None
        nxt = tokens[j + 1] if tr is not None and j + 1 < len(tokens) else None
        if tr is not None and nxt == "dns":
            kind = "dns"
        elif has_dns:
            inner = tokens[l3_i + 1:tokens.index("dns")]
            kind = "icmp_quoted" if ("icmp" in inner or "icmpv6" in inner) else "nested"
        else:
            kind = "other"
        hit = (kind, l3, tr, frag6, nxt)
    if len(_LAYOUTS) < 10_000:
        _LAYOUTS[protocols] = hit
    return hit


def is_fragment(cols, l3, frag6):
    if l3 == "ip":
        mf = cols[I_IP_MF].split(SEP, 1)[0]
        off = cols[I_IP_OFF].split(SEP, 1)[0]
        return mf in ("1", "True") or (off not in ("", "0"))
    if frag6:
        off = cols[I_FRAG6_OFF].split(SEP, 1)[0]
        more = cols[I_FRAG6_MORE].split(SEP, 1)[0]
        return not (off in ("", "0") and more in ("", "0", "False"))
    return False


def section_counts(cols, flags):
    """Each message's first two header counts (QDCOUNT, ANCOUNT), in message order.

    tshark names them by opcode: dns.count.queries/answers for most messages, but
    dns.count.zones/prerequisites for an UPDATE (opcode 5, RFC 2136).  pktvisor reads the
    same two header fields whatever the opcode, so both are merged back in order."""
    plain = iter(cols[I_QD].split(SEP)), iter(cols[I_AN].split(SEP))
    update = iter(cols[I_ZONES].split(SEP)), iter(cols[I_PREREQ].split(SEP))
    qd, an = [], []
    for f in flags:
        is_update = f != "" and (int(f, 16) >> 11) & 0xF == OPCODE_UPDATE
        q, a = update if is_update else plain
        qd.append(next(q, ""))
        an.append(next(a, ""))
    return qd, an


def process_frame(s, cols, ports, check_ek):
    kind, l3, tr, frag6, nxt = frame_layout(cols[I_PROTO])
    if kind != "dns":
        if kind != "other":
            s.skipped[kind] += 1
        elif nxt is not None and nxt != "data" and not nxt.startswith("_ws.") \
                and not is_fragment(cols, l3, frag6):
            # a DNS-port frame that some other dissector took?
            sp, dp = (I_UDP_SPORT, I_UDP_DPORT) if tr == "udp" else (I_TCP_SPORT, I_TCP_DPORT)
            sp = int(cols[sp].split(SEP, 1)[0] or 0)
            dp = int(cols[dp].split(SEP, 1)[0] or 0)
            if sp in ports or dp in ports:
                s.bump(s.stolen, nxt)
        return
    if (l3 == "ip" or frag6) and is_fragment(cols, l3, frag6):
        s.skipped["ip_fragment"] += 1
        return
    if tr == "udp":
        sport = int(cols[I_UDP_SPORT].split(SEP, 1)[0])
        dport = int(cols[I_UDP_DPORT].split(SEP, 1)[0])
    else:
        sport = int(cols[I_TCP_SPORT].split(SEP, 1)[0])
        dport = int(cols[I_TCP_DPORT].split(SEP, 1)[0])
    if dport in ports:
        port_metric = sport
    elif sport in ports:
        port_metric = dport
    else:
        s.skipped["not_dns_port"] += 1
        return
    if l3 == "ip":
        src, dst = cols[I_IP_SRC].split(SEP, 1)[0], cols[I_IP_DST].split(SEP, 1)[0]
        l3name = "ipv4"
    else:
        src, dst = cols[I_IP6_SRC].split(SEP, 1)[0], cols[I_IP6_DST].split(SEP, 1)[0]
        l3name = "ipv6"
    ts_ns = parse_epoch_ns(cols[I_TIME])

    ids = cols[I_ID].split(SEP)
    flags = cols[I_FLAGS].split(SEP)
    qd, an = section_counts(cols, flags)
    n = len(ids)
    if not cols[I_ID] or len(flags) != n or len(an) != n or len(qd) != n or "" in flags \
            or "" in an or "" in qd:
        # A message too short for its header: pktvisor (PcapPlusPlus) rejects
        # it too (DnsLayer needs the 12-byte header).
        s.skipped["short_header"] += 1
        return
    s.frames += 1
    if cols[I_RESPONSE_TO]:
        s.response_to += cols[I_RESPONSE_TO].count(SEP) + 1
    heads = []
    for i in range(n):
        mid = int(ids[i], 16)
        fl = int(flags[i], 16)
        anc = int(an[i])
        qr, rcode = s.header(l3name, tr, src, sport, dst, dport, port_metric, mid, fl, anc, ts_ns)
        heads.append((qr, rcode, anc, mid))

    names = split_occ(cols[I_QNAME])
    types = split_occ(cols[I_QTYPE])
    fams = split_occ(cols[I_ECS_FAM])
    if n == 1:
        if len(names) == len(types):
            qr, rcode, anc, _ = heads[0]
            qname = names[0] if names else None
            qtype = int(types[0]) if types else None
            s.names(qr, rcode, anc, qname, qtype, ecs_of(fams, cols) if fams else None)
            return
        s.deferred.append((int(cols[I_NUM]), heads, None))
        return
    s.multi_frames += 1
    qds = [int(x) for x in qd]
    exact = not fams and len(names) == len(types) == sum(qds)
    fields_view = None
    if exact:
        fields_view = []
        pos = 0
        for (qr, rcode, anc, _), k in zip(heads, qds):
            if k:
                fields_view.append((qr, rcode, anc, names[pos], int(types[pos]), None))
            else:
                fields_view.append((qr, rcode, anc, None, None, None))
            pos += k
        if not check_ek:
            for m in fields_view:
                s.names(*m)
            return
    s.deferred.append((int(cols[I_NUM]), heads, fields_view))


def ecs_of(fams, cols):
    """The first ECS option of family 1 or 2 in a single-message frame, as tshark prints it.

    tshark adds one dns.opt.client.family per ECS option and, for family 1 / 2,
    one dns.opt.client.addr4 / addr6, so the first family-1 option's address is
    the first addr4 (likewise for IPv6)."""
    for f in fams:
        if f == "1":
            a4 = split_occ(cols[I_ECS4])
            return a4[0] if a4 else None
        if f == "2":
            a6 = split_occ(cols[I_ECS6])
            return a6[0] if a6 else None
    return None


# ----------------------------------------------------------------------------
# -T ek look-up of frames whose messages cannot be told apart in field output


def ek_values(m, key):
    v = m.get(key)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def ek_messages(layers):
    dns = layers.get("dns")
    if dns is None:
        return []
    msgs = dns if isinstance(dns, list) else [dns]
    out = []
    for m in msgs:
        ids = ek_values(m, "dns_dns_id")
        flags = ek_values(m, "dns_dns_flags")
        an = ek_values(m, "dns_dns_count_answers") or ek_values(m, "dns_dns_count_prerequisites")
        if not ids or not flags:
            out.append(None)
            continue
        fl = int(flags[0], 16)
        qr, rcode = (fl >> 15) & 1, fl & 0xF
        names = ek_values(m, "dns_dns_qry_name")
        types = ek_values(m, "dns_dns_qry_type")
        qname = names[0] if names else None
        qtype = int(types[0]) if types else None
        ecs = None
        a4 = ek_values(m, "dns_dns_opt_client_addr4")
        a6 = ek_values(m, "dns_dns_opt_client_addr6")
        for f in ek_values(m, "dns_dns_opt_client_family"):
            if str(f) == "1":
                ecs = a4[0] if a4 else None
                break
            if str(f) == "2":
                ecs = a6[0] if a6 else None
                break
        out.append((int(ids[0], 16), qr, rcode, int(an[0]) if an else 0, qname, qtype, ecs))
    return out


def frame_filter(numbers):
    parts = []
    nums = sorted(set(numbers))
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}..{nums[j]}")
        i = j + 1
    return "frame.number in {" + ", ".join(parts) + "}"


def resolve_deferred(s, path, ports, disabled, check_ek):
    if not s.deferred:
        return 0, 0
    want = {num: (heads, fv) for num, heads, fv in s.deferred}
    cmd = base_cmd(path, ports, disabled) + ["-Y", frame_filter(want), "-T", "ek"]
    errf = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True,
                            encoding="utf-8", errors="surrogateescape", bufsize=1 << 20)
    seen = 0
    mismatches = 0
    for line in proc.stdout:
        if not line.startswith('{"timestamp"') and '"layers"' not in line:
            continue
        doc = json.loads(line)
        layers = doc.get("layers", {})
        num = int(ek_values(layers.get("frame", {}), "frame_frame_number")[0])
        if num not in want:
            continue
        heads, fields_view = want.pop(num)
        seen += 1
        msgs = ek_messages(layers)
        if len(msgs) != len(heads) or any(m is None for m in msgs) \
                or [m[0] for m in msgs] != [h[3] for h in heads]:
            die(f"frame {num}: tshark -T ek shows messages {msgs} but the field output {heads}")
        ek_view = [(m[1], m[2], m[3], m[4], m[5], m[6]) for m in msgs]
        if fields_view is not None and fields_view != ek_view:
            mismatches += 1
            warn(f"frame {num}: field split {fields_view} != ek {ek_view}")
        for m in ek_view:
            s.names(*m)
    rc = proc.wait()
    err = read_stderr(errf)
    if rc != 0:
        die(f"tshark -T ek failed (exit {rc}): {err}")
    if want:
        die(f"tshark -T ek did not show frames {sorted(want)[:20]}")
    if check_ek and mismatches:
        die(f"--check-ek: {mismatches} frames split differently by the field output and -T ek")
    return seen, mismatches


# ----------------------------------------------------------------------------


def one_pass(path, ports, host_spec, ttl_ms, disabled, check_ek, allow_truncated):
    s = Summary(host_spec, ttl_ms)
    plist = ", ".join(str(p) for p in sorted(ports))
    dfilter = (f"dns or udp.port in {{{plist}}} or (tcp.port in {{{plist}}} and tcp.len > 0)")
    cmd = base_cmd(path, ports, disabled) + [
        "-Y", dfilter,
        "-T", "fields", "-E", "separator=/t", "-E", "header=n", "-E", "quote=n",
        "-E", "occurrence=a", "-E", f"aggregator={SEP}",
    ]
    for f in FIELDS:
        cmd += ["-e", f]
    errf = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True,
                            encoding="utf-8", errors="surrogateescape", bufsize=1 << 20)
    for line in proc.stdout:
        line = line.rstrip("\n")
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) < NCOLS:
            cols += [""] * (NCOLS - len(cols))
        process_frame(s, cols, ports, check_ek)
    rc = proc.wait()
    err = read_stderr(errf)
    cut_short = "cut short in the middle of a packet" in err
    if rc != 0 and not (cut_short and allow_truncated):
        hint = " (use --allow-truncated to count the frames before the cut)" if cut_short else ""
        die(f"tshark failed (exit {rc}) on {path}: {err.strip()}{hint}")
    if err.strip():
        warn(f"tshark said: {err.strip()}")
    return s


def tshark_version():
    try:
        out = subprocess.run([tshark_path(), "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        return out.splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


def summarize(path, host_spec, ports, ttl_ms=5000, check_ek=False, allow_truncated=False):
    disabled = set()
    for _ in range(4):
        s = one_pass(path, ports, host_spec, ttl_ms, disabled, check_ek, allow_truncated)
        new = set(s.stolen) - disabled
        if not new:
            break
        warn(f"frames on DNS ports were dissected as {sorted(new)}: again with those disabled")
        disabled |= new
    ek_frames, _ = resolve_deferred(s, path, ports, disabled, check_ek)
    s.finish()
    extra = {
        "dns_ports": sorted(ports),
        "xact_ttl_ms": ttl_ms,
        "ek_frames": ek_frames,
        "disabled_protocols": sorted(disabled),
        "undissected_dns_port_frames": dict(sorted(s.stolen.items())),
        "tshark": tshark_version(),
    }
    return s.result(extra)


# ----------------------------------------------------------------------------
# self test: aggregation cases + a synthetic capture with known answers


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _dns_name(name):
    if name == ".":
        return b"\0"
    out = b""
    for label in name.split("."):
        raw = label.encode("latin-1")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _dns_name_labels(labels):
    out = b""
    for raw in labels:
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _dns(mid, qr, rcode, qname, qtype, answers=0, ecs=None, qname_wire=None):
    flags = (qr << 15) | (0x0100 if not qr else 0x8180) | rcode
    flags = (flags & ~0xF) | rcode
    q = (qname_wire if qname_wire is not None else _dns_name(qname)) + struct.pack("!HH", qtype, 1)
    body = q
    for _ in range(answers):
        body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    arcount = 0
    if ecs is not None:
        fam, prefix, addr = ecs
        opt = struct.pack("!HBB", fam, prefix, 0) + addr
        body += b"\0" + struct.pack("!HHIH", 41, 1232, 0, 4 + len(opt)) + \
            struct.pack("!HH", 8, len(opt)) + opt
        arcount = 1
    return struct.pack("!HHHHHH", mid, flags, 1, answers, 0, arcount) + body


def _eth(payload, v6=False):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + (b"\x86\xdd" if v6 else b"\x08\x00") + payload


def _ip4(src, dst, proto, payload, ident=1, mf=False, off=0):
    fl = (0x2000 if mf else 0) | (off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, fl, 64, proto, 0,
                      ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + payload


def _ip6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64,
                       ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed) + payload


def _pseudo(src, dst, proto, length):
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if a.version == 4:
        return a.packed + b.packed + struct.pack("!BBH", 0, proto, length)
    return a.packed + b.packed + struct.pack("!IxxxB", length, proto)


def _udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = _csum(_pseudo(src, dst, 17, len(u)) + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def _tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    c = _csum(_pseudo(src, dst, 6, len(t)) + t)
    return t[:16] + struct.pack("!H", c) + t[18:]


def _frame_udp(src, dst, sport, dport, dns):
    if ":" in src:
        return _eth(_ip6(src, dst, 17, _udp(src, dst, sport, dport, dns)), v6=True)
    return _eth(_ip4(src, dst, 17, _udp(src, dst, sport, dport, dns)))


def _frame_tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    return _eth(_ip4(src, dst, 6, _tcp(src, dst, sport, dport, seq, ack, flags, payload)))


def write_selftest_pcap(path):
    C, S = "198.51.100.1", "198.51.100.2"
    C6, S6 = "2001:db8::1", "2001:db8::2"
    T0 = 1700000000
    frames = []  # (ns since T0, bytes)

    def at(ms, data):
        frames.append((int(round(ms * 1_000_000)), data))

    # 1 UDP v4 A, NOERROR 1 answer, 1.5 ms; mixed-case name
    at(0, _frame_udp(C, S, 40000, 53, _dns(0x1111, 0, 0, "WWW.Example.COM", 1)))
    at(1.5, _frame_udp(S, C, 53, 40000, _dns(0x1111, 1, 0, "WWW.Example.COM", 1, answers=1)))
    # 2 UDP v6 AAAA, NXDOMAIN, 0.25 ms
    at(2, _frame_udp(C6, S6, 40001, 53, _dns(0x2222, 0, 0, "a.b.c", 28)))
    at(2.25, _frame_udp(S6, C6, 53, 40001, _dns(0x2222, 1, 3, "a.b.c", 28)))
    # 3 root NS, REFUSED
    at(3, _frame_udp(C, S, 40002, 53, _dns(0x3333, 0, 0, ".", 2)))
    at(3.001, _frame_udp(S, C, 53, 40002, _dns(0x3333, 1, 5, ".", 2)))
    # 4 a name with ',' and '|' and a literal '.' inside a label, SERVFAIL
    weird = _dns_name_labels([b"x,y|z", b"A.b", b"test"])
    at(4, _frame_udp(C, S, 40003, 53, _dns(0x4444, 0, 0, "", 16, qname_wire=weird)))
    at(4.010, _frame_udp(S, C, 53, 40003, _dns(0x4444, 1, 2, "", 16, qname_wire=weird)))
    # 5 NODATA (NOERROR, 0 answers)
    at(5, _frame_udp(C, S, 40004, 53, _dns(0x5555, 0, 0, "nodata.example.com", 28)))
    at(5.5, _frame_udp(S, C, 53, 40004, _dns(0x5555, 1, 0, "nodata.example.com", 28)))
    # 6 TCP: two queries in one segment; replies: 1 + half of 2, then the rest
    q1 = _dns(0x6001, 0, 0, "t1.example.com", 1)
    q2 = _dns(0x6002, 0, 0, "t2.example.com", 1)
    r1 = _dns(0x6001, 1, 0, "t1.example.com", 1, answers=1)
    r2 = _dns(0x6002, 1, 3, "t2.example.com", 1)
    cq = struct.pack("!H", len(q1)) + q1 + struct.pack("!H", len(q2)) + q2
    cr = struct.pack("!H", len(r1)) + r1 + struct.pack("!H", len(r2)) + r2
    cut = 2 + len(r1) + 7
    at(6.0, _frame_tcp(C, S, 40005, 53, 1000, 0, 0x02))
    at(6.1, _frame_tcp(S, C, 53, 40005, 5000, 1001, 0x12))
    at(6.2, _frame_tcp(C, S, 40005, 53, 1001, 5001, 0x10))
    at(6.3, _frame_tcp(C, S, 40005, 53, 1001, 5001, 0x18, cq))
    at(7.0, _frame_tcp(S, C, 53, 40005, 5001, 1001 + len(cq), 0x18, cr[:cut]))
    at(7.5, _frame_tcp(S, C, 53, 40005, 5001 + cut, 1001 + len(cq), 0x18, cr[cut:]))
    # 7 fragmented UDP reply (never counted) to a query that then stays open
    at(8, _frame_udp(C, S, 40006, 53, _dns(0x7777, 0, 0, "frag.example.com", 16)))
    big = _udp(S, C, 53, 40006, _dns(0x7777, 1, 0, "frag.example.com", 16, answers=3) + b"\0" * 40)
    at(8.1, _eth(_ip4(S, C, 17, big[:48], ident=77, mf=True, off=0)))
    at(8.2, _eth(_ip4(S, C, 17, big[48:], ident=77, mf=False, off=48)))
    # 8 ICMP port unreachable quoting a DNS reply (not counted)
    inner = _ip4(S, C, 17, _udp(S, C, 53, 40007, _dns(0x8888, 1, 0, "late.example.com", 1)))
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + inner
    icmp = icmp[:2] + struct.pack("!H", _csum(icmp)) + icmp[4:]
    at(9, _eth(_ip4(C, S, 1, icmp)))
    # 9 ECS query on 5353 (mDNS port, dissected as DNS), answered
    at(10, _frame_udp(C, S, 40008, 5353, _dns(0x9999, 0, 0, "ecs.example.com", 1,
                                              ecs=(1, 24, bytes([1, 2, 3])))))
    at(10.2, _frame_udp(S, C, 5353, 40008, _dns(0x9999, 1, 0, "ecs.example.com", 1, answers=1)))
    # 10 DNS port 53000 (a default, as in pktvisor) from client port 44818 (EtherNet/IP's
    # port): still DNS
    at(11, _frame_udp(C, S, 44818, 53000, _dns(0xAAAA, 0, 0, "enip.example.com", 1)))
    at(11.3, _frame_udp(S, C, 53000, 44818, _dns(0xAAAA, 1, 0, "enip.example.com", 1, answers=1)))
    # 11 replaced query: same key twice, one reply (matched to the second)
    at(12, _frame_udp(C, S, 40009, 53, _dns(0xBBBB, 0, 0, "dup.example.com", 1)))
    at(12.5, _frame_udp(C, S, 40009, 53, _dns(0xBBBB, 0, 0, "dup.example.com", 1)))
    at(13, _frame_udp(S, C, 53, 40009, _dns(0xBBBB, 1, 0, "dup.example.com", 1, answers=1)))
    # 12 reply 6 s after its query: timed out (purged), reply unmatched
    at(20, _frame_udp(C, S, 40010, 53, _dns(0xCCCC, 0, 0, "slow.example.com", 1)))
    at(6020, _frame_udp(S, C, 53, 40010, _dns(0xCCCC, 1, 2, "slow.example.com", 1)))
    # 13 ECS IPv6 query from the host (S6) to an outside server: direction "out"
    at(6030, _frame_udp(S6, "2001:db8:ffff::53", 40011, 53,
                        _dns(0xDDDD, 0, 0, "v6ecs.example.com", 28,
                             ecs=(2, 56, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x12])))))
    at(6030.5, _frame_udp("2001:db8:ffff::53", S6, 53, 40011,
                          _dns(0xDDDD, 1, 0, "v6ecs.example.com", 28, answers=1)))
    # 14 a query nobody answers, still open at the end of the file
    at(6040, _frame_udp(C, S, 40012, 53, _dns(0xEEEE, 0, 0, "open.example.com", 1)))

    _write_pcap(path, [(T0 * 1_000_000_000 + ns, data) for ns, data in frames])


def _write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))  # nanosecond pcap
        for ns, data in frames:
            sec, frac = divmod(ns, 1_000_000_000)
            f.write(struct.pack("<IIII", sec, frac, len(data), len(data)) + data)


# a name with a 0x1F byte (the aggregator), a tab (the separator), a space and
# upper case, as tshark 4.0 prints it and the oracle keys it
ODD_LABELS = [b"a\x1fb", b"c\td", b"E f", b"test"]
ODD_NAME = "a\\037b.c\\td.e f.test"


def write_names_pcap(path):
    C, S = "198.51.100.1", "198.51.100.2"
    wire = _dns_name_labels(ODD_LABELS)
    t0 = 1_700_000_000 * 1_000_000_000
    _write_pcap(path, [
        (t0, _frame_udp(C, S, 40000, 53, _dns(0x0101, 0, 0, "", 1, qname_wire=wire))),
        (t0 + 1000, _frame_udp(S, C, 53, 40000, _dns(0x0101, 1, 3, "", 1, qname_wire=wire))),
    ])


SELFTEST_EXPECT = {
    # messages: 1:2 2:2 3:2 4:2 5:2 6:4 7:1 (the fragmented reply is not) 9:2 10:2 11:3 12:2
    # 13:2 14:1
    "total": 27, "queries": 15, "replies": 12, "udp": 23, "tcp": 4, "ipv4": 23, "ipv6": 4,
    "noerror": 7, "nxdomain": 2, "srvfail": 2, "refused": 1, "nodata": 1,
    "top_rcode": {"0": 7, "2": 2, "3": 2, "5": 1},
    "top_qtype": {"1": 16, "28": 6, "16": 3, "2": 2},
    "qnames": 14,
    "top_nxdomain": {"a.b.c": 1, "t2.example.com": 1},
    "top_refused": {".": 1},
    # tshark 4.0 prints a '.' inside a label as it is (so does PcapPlusPlus)
    "top_srvfail": {"slow.example.com": 1, "x,y|z.a.b.test": 1},
    "top_nodata": {"nodata.example.com": 1},
    "top_qname2": {".example.com": 21, ".": 2, ".b.c": 2, ".b.test": 2},
    "top_query_ecs": {"1.2.3.0": 1, "2001:db8:0:1200::": 1},
    "query_ecs": 2,
    "top_udp_ports": {"40005": 4, "40009": 3, "40000": 2, "40001": 2, "40002": 2, "40003": 2,
                      "40004": 2, "40008": 2, "40010": 2, "40011": 2, "44818": 2, "40006": 1,
                      "40012": 1},
    "xact_total": 11, "xact_in": 10, "xact_out": 1,
    "xact_in_us": [1500, 250, 1, 10, 500, 700, 1200, 200, 300, 500], "xact_out_us": [500],
    # timed out: the query whose reply was fragmented (7) and the slow one (12); the query
    # still open at the end (14) is younger than the TTL there: not a timeout.
    "xact_timed_out": 2, "xact_open_at_end": 1, "xact_replaced": 1,
    "xact_unmatched_replies": 1,
    "tshark_response_to": 12,
    "skipped": {"ip_fragment": 1, "icmp_quoted": 1, "nested": 0, "not_dns_port": 0, "no_ip": 0,
                "short_header": 0},
    "multi_message_frames": 1,
    "disabled_protocols": [],
}


def self_test():
    failures = 0
    for name, q2, q3 in AGGREGATE_CASES:
        got = aggregate_domain(name)
        if got != (q2, q3):
            print(f"FAIL aggregate_domain({name!r}) = {got}, want {(q2, q3)}")
            failures += 1
    for raw, want in [("<Root>", "."), ("WWW.Example.COM", "www.example.com"),
                      ("example.com.", "example.com")]:
        if norm_name(raw) != want:
            print(f"FAIL norm_name({raw!r}) = {norm_name(raw)!r}, want {want!r}")
            failures += 1
    if parse_epoch_ns("1614874234.481074") - parse_epoch_ns("1614874234.479574000") != 1_500_000:
        print("FAIL parse_epoch_ns")
        failures += 1
    print(f"aggregation/name cases: {len(AGGREGATE_CASES) + 3 - failures} checked")

    if shutil.which("tshark"):
        with tempfile.TemporaryDirectory(prefix="dns_oracle.") as tmp:
            pcap = os.path.join(tmp, "selftest.pcap")
            write_selftest_pcap(pcap)
            hs = parse_host_spec("198.51.100.2/32,2001:db8::2/128")
            ports = set(DEFAULT_DNS_PORTS)
            for check in (False, True):
                got = summarize(pcap, hs, ports, 5000, check_ek=check)
                for k, want in SELFTEST_EXPECT.items():
                    if got.get(k) != want:
                        print(f"FAIL synthetic capture (check_ek={check}): {k} = {got.get(k)!r}, "
                              f"want {want!r}")
                        failures += 1
            print(f"synthetic capture: {len(SELFTEST_EXPECT)} keys checked twice")
            pcap = os.path.join(tmp, "names.pcap")
            write_names_pcap(pcap)
            got = summarize(pcap, [], set(DEFAULT_DNS_PORTS))
            want = {"total": 2, "qnames": 1, "top_nxdomain": {ODD_NAME: 1},
                    "top_qname2": {".e f.test": 2}, "top_qname3": {".c\\td.e f.test": 2}}
            for k, v in want.items():
                if got.get(k) != v:
                    print(f"FAIL odd name: {k} = {got.get(k)!r}, want {v!r}")
                    failures += 1
            print(f"odd name: {ODD_NAME!r} checked")
    else:
        print("SKIP synthetic capture: tshark not found")
    if failures:
        print(f"self-test: {failures} failures")
        sys.exit(1)
    print("self-test: OK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--host-spec", default="",
                    help="comma separated IPv4/IPv6 CIDRs of the local hosts")
    ap.add_argument("--dns-port", type=int, action="append", default=[],
                    help="an extra DNS port besides 53, 5353, 5355, 53000 (repeatable)")
    ap.add_argument("--xact-ttl-ms", type=int, default=5000,
                    help="transaction timeout in milliseconds (default 5000)")
    ap.add_argument("--bpf", default=None, help="BPF expression applied with tcpdump first")
    ap.add_argument("--check-ek", action="store_true",
                    help="cross-check every multi-message frame against tshark -T ek")
    ap.add_argument("--allow-truncated", action="store_true",
                    help="accept a file whose last record is cut short")
    ap.add_argument("--self-test", action="store_true",
                    help="check the aggregation rules and a synthetic capture, then exit")
    args = ap.parse_args()

    if args.self_test:
        self_test()
        return
    if not args.file:
        ap.error("FILE is required")
    if not os.path.isfile(args.file):
        die(f"no such file: {args.file}")
    for p in args.dns_port:
        if not 0 < p < 65536:
            die(f"bad --dns-port {p}")
    ports = set(DEFAULT_DNS_PORTS) | set(args.dns_port)
    with tempfile.TemporaryDirectory(prefix="dns_oracle.") as tmp:
        path = apply_bpf(args.file, args.bpf, tmp) if args.bpf else args.file
        result = summarize(path, parse_host_spec(args.host_spec), ports, args.xact_ttl_ms,
                           check_ek=args.check_ek, allow_truncated=args.allow_truncated)
        if args.bpf:
            result["bpf"] = args.bpf
    try:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
