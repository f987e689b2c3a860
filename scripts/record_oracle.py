#!/usr/bin/env python3
"""Independent oracle for `pktvisor record` / `pktvisord --record`.

Usage:
    python3 scripts/record_oracle.py INPUT OUTDIR [--cutoff-bytes N] [--cutoff-packets N]
        [--timeout SECS] [--snaplen N] [--retention-size N] [--subset|--prefix] [--ignore-ts]

Computes from tshark's dissection of INPUT which packets the recorder must keep, reads every
file under OUTDIR back (tshark -r and tcpdump -r, through zcat/zstdcat for .gz/.zst) and
compares packet for packet: timestamp, wire length and raw bytes, in order. Prints one JSON
object; exits 1 on any mismatch. Nothing here uses the project's code.

The rules, applied to tshark's fields (IP reassembly off, so each fragment is its own frame):

* flow key   frames with no IP layer right after the link layer (eth/vlan/802.1ad/sll/null/raw)
             are in no flow and always kept.  TCP/UDP frames that are not fragments (the token
             after the outermost IP and its extension headers in frame.protocols) are keyed by
             (protocol, addresses, ports).  Fragments (IPv4 MF or offset > 0, IPv6 fragment
             header that is not atomic) and every other protocol by (protocol number, addresses):
             ip.proto, ipv6.fraghdr.nxt, or the number of tshark's transport name.  The two
             endpoints are sorted, so both directions are one flow.
* cutoff     a frame is kept when before it its flow had seen fewer than --cutoff-bytes wire
             bytes (frame.len; 0 = no limit) and fewer than --cutoff-packets frames (0 = no
             limit), or when it is TCP with SYN, FIN or RST set.
* timeout    a frame more than --timeout seconds after its flow's previous frame (exact
             nanoseconds) starts the flow anew.
* snaplen    kept frames are cut to --snaplen bytes (the wire length stays).
* --prefix   (recovery after a kill) the output must be the first frames of the expected ones
             (with --ignore-ts: the first ones of every flow and direction).
* --ignore-ts (live captures) output packets are found in the reference by wire length and
             bytes; the set kept must be exactly the expected one, in the reference's order
             within each flow and direction.  Two packet sockets on one interface (tcpdump's and
             the recorder's) stamp packets each on its own, a fraction of a microsecond apart,
             and may interleave the two directions of a flow differently.
* --subset   (live captures) the output must be an in-order subsequence of the expected
             frames instead of equal to them; the count of missing frames is reported.

Raw bytes come from parsing the pcap records in Python (decompressed by zcat/zstdcat); every
output file must also be read by tshark and tcpdump without error, with the same count.
"""

import argparse
import json
import os
import struct
import subprocess
import sys

IP_LINK_TOKENS = {"eth", "ethertype", "vlan", "ieee8021ad", "sll", "null", "loop", "raw"}
# IP protocol numbers of the transports tshark names in frame.protocols.
PROTO_NUMBER = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                "icmpv6": 58, "ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132}
IPV6_EXT = {"ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts"}

FIELDS = [
    "frame.time_epoch", "frame.len", "frame.protocols",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
    "ip.flags.mf", "ip.frag_offset", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.nxt",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags",
]


def run(cmd, stdin_bytes=None):
    r = subprocess.run(cmd, input=stdin_bytes, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


def ts_ns(text):
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def first(v):
    return v.split(",")[0] if v else ""


def tshark_rows(path_or_dash, data=None):
    cmd = ["tshark", "-n", "-r", path_or_dash, "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = run(cmd, data).decode()
    return [line.split("\t") for line in out.splitlines()]


def flow_of(row):
    f = dict(zip(FIELDS, row + [""] * (len(FIELDS) - len(row))))
    tokens = f["frame.protocols"].split(":")
    i = 0
    while i < len(tokens) and tokens[i] in IP_LINK_TOKENS:
        i += 1
    if i >= len(tokens) or tokens[i] not in ("ip", "ipv6"):
        return None, 0
    v6 = tokens[i] == "ipv6"
    src = first(f["ipv6.src"] if v6 else f["ip.src"])
    dst = first(f["ipv6.dst"] if v6 else f["ip.dst"])
    j = i + 1
    while j < len(tokens) and tokens[j] in IPV6_EXT:
        j += 1
    transport = tokens[j] if j < len(tokens) else ""
    if v6:
        offset = first(f["ipv6.fraghdr.offset"])
        more = first(f["ipv6.fraghdr.more"])
        fragment = bool(offset) and (int(offset) != 0 or more in ("1", "True"))
        # The transport's number: from the fragment header, else from tshark's name for it.
        proto = first(f["ipv6.fraghdr.nxt"]) if offset else \
            str(PROTO_NUMBER.get(transport, transport))
    else:
        fragment = first(f["ip.flags.mf"]) in ("1", "True") or int(first(f["ip.frag_offset"]) or 0) != 0
        proto = first(f["ip.proto"])
    flags = 0
    if transport == "tcp" and f["tcp.flags"]:
        flags = int(first(f["tcp.flags"]), 16)
    if not fragment and transport in ("tcp", "udp") and f[f"{transport}.srcport"]:
        a = (src, int(first(f[f"{transport}.srcport"])))
        b = (dst, int(first(f[f"{transport}.dstport"])))
        ends = sorted([a, b])
        return (transport, ends[0], ends[1]), (flags, transport)
    # Fragments and every other protocol: protocol and addresses, so a datagram's fragments
    # share the flow of the unfragmented packets of that protocol between the two hosts.
    ends = sorted([src, dst])
    return (proto, ends[0], ends[1]), (flags if transport == "tcp" else 0, transport)


def direction_of(row, key):
    """The flow and direction a frame travels in (frames without a flow: one group)."""
    if key is None:
        return None
    f = dict(zip(FIELDS, row + [""] * (len(FIELDS) - len(row))))
    return key, first(f["ip.src"]) or first(f["ipv6.src"]), \
        first(f["tcp.srcport"]) or first(f["udp.srcport"])


def expected_frames(rows, cutoff_bytes, cutoff_packets, timeout_ns, groups):
    flows = {}
    kept = []
    for n, row in enumerate(rows):
        key, info = flow_of(row)
        groups.append(direction_of(row, key))
        if key is None:
            kept.append(n)
            continue
        t, wire = ts_ns(row[0]), int(row[1])
        flags, transport = info
        st = flows.get(key)
        if st is None or t - st[2] > timeout_ns:
            st = [0, 0, t]
            flows[key] = st
        under = (cutoff_bytes == 0 or st[0] < cutoff_bytes) and \
                (cutoff_packets == 0 or st[1] < cutoff_packets)
        st[0] += wire
        st[1] += 1
        st[2] = max(st[2], t)
        if under or (transport == "tcp" and flags & 0x07):
            kept.append(n)
    return kept, len(flows)


def pcap_records(data):
    """(ts_ns, wire_len, bytes) of every record of a pcap file's bytes."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit(f"not a pcap file (magic {magic.hex()})")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    out = []
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[at:at + 16])
        body = data[at + 16:at + 16 + incl]
        if len(body) < incl:
            sys.exit(f"cut record at offset {at}")
        out.append((sec * 1_000_000_000 + (frac if nano else frac * 1000), orig, body))
        at += 16 + incl
    if at != len(data):
        sys.exit(f"{len(data) - at} bytes after the last record")
    return out


def read_output(path):
    """Decompressed bytes of an output file; tshark and tcpdump must read it with one count."""
    if path.endswith(".zst"):
        data = run(["zstdcat", path])
    elif path.endswith(".gz"):
        data = run(["zcat", path])
        # wireshark reads gzip directly: check that too.
        direct = run(["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number"])
        if len(direct.splitlines()) != len(pcap_records(data)):
            sys.exit(f"tshark -r {path} reads another packet count")
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    recs = pcap_records(data)
    ts = run(["tshark", "-n", "-r", "-", "-T", "fields", "-e", "frame.time_epoch", "-e",
              "frame.len"], data).decode().splitlines()
    td = subprocess.run(["tcpdump", "-n", "-r", "-"], input=data, capture_output=True)
    if td.returncode != 0:
        sys.exit(f"tcpdump -r {path}: {td.stderr.decode(errors='replace')}")
    if len(ts) != len(recs) or len(td.stdout.splitlines()) != len(recs):
        sys.exit(f"{path}: tshark {len(ts)}, tcpdump {len(td.stdout.splitlines())}, "
                 f"records {len(recs)}")
    for line, (t, wire, _) in zip(ts, recs):
        epoch, length = line.split("\t")
        if ts_ns(epoch) != t or int(length) != wire:
            sys.exit(f"{path}: tshark sees {line!r}, the record says {t} {wire}")
    return recs


CONCURRENT_NS = 2_000_000


def compare_live(got, expected, kept, inputs, groups, prefix, result, allow=0):
    """Live captures: each output packet is found in the reference by its bytes; the packets
    kept must be exactly the expected ones (with --prefix: the first ones of every flow and
    direction), in the reference's order within every flow and direction. Two packet sockets
    may see the two directions of a flow interleaved differently, and stamp times of their own,
    so neither the order across directions nor the time is compared."""
    problems = []
    where = {}
    for n, (_, wire, body) in enumerate(inputs):
        where.setdefault((wire, body), []).append(n)
    used = []
    for i, (_, wire, body) in enumerate(got):
        candidates = where.get((wire, body))
        if not candidates:
            problems.append(f"output packet {i} ({wire} bytes) is not in the reference")
            return problems
        used.append(candidates.pop(0))
    # With several CPUs, two packets of one direction handled at the same moment on two CPUs
    # reach two packet sockets in either order (each CPU delivers to both): a swap of frames
    # that the reference stamped within CONCURRENT_NS of each other is not a recording error.
    last = {}
    for n in used:
        g = groups[n]
        before = last.get(g, -1)
        if before > n:
            if inputs[before][0] - inputs[n][0] > CONCURRENT_NS:
                problems.append(f"reference frame {n} is out of order within its flow and direction")
                return problems
            continue
        last[g] = n
    want = set(kept)
    have = set(used)
    if prefix:
        by_group = {}
        for n in kept:
            by_group.setdefault(groups[n], []).append(n)
        for g, frames in by_group.items():
            mine = [n for n in frames if n in have]
            if frames[:len(mine)] != mine:
                problems.append(f"the recovered frames of a flow direction are not its first ones: {g}")
                break
        if not have <= want:
            problems.append(f"{len(have - want)} output frames were not to be kept")
        result["missing"] = len(want - have)
    elif have != want:
        # Which frames, to tell a recording error from a capture race: the reference's index,
        # time from its first frame, wire length and flow direction.
        t0 = inputs[0][0] if inputs else 0
        describe = lambda ns: [(n, inputs[n][0] - t0, inputs[n][1], str(groups[n]))
                               for n in sorted(ns)[:10]]
        result["missing_frames"] = describe(want - have)
        result["extra_frames"] = describe(have - want)
        # A packet the agent's own socket lost (the kernel counted it: --allow-missing) is
        # missing, and may move its flow's cutoff by one packet.
        if len(want - have) > allow or len(have - want) > allow:
            problems.append(f"{len(have - want)} frames written that were to be cut, "
                            f"{len(want - have)} to be kept missing")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("outdir")
    ap.add_argument("--cutoff-bytes", type=int, default=65536)
    ap.add_argument("--cutoff-packets", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--snaplen", type=int, default=0)
    ap.add_argument("--retention-size", type=int, default=0)
    ap.add_argument("--subset", action="store_true")
    ap.add_argument("--ignore-ts", action="store_true")
    ap.add_argument("--prefix", action="store_true")
    # Live recordings: frames of the reference the recorder's socket did not get, as its
    # kernel drop counter says (each may also move its flow's cutoff by one packet).
    ap.add_argument("--allow-missing", type=int, default=0)
    a = ap.parse_args()

    rows = tshark_rows(a.input)
    with open(a.input, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = run(["zcat", a.input])
    inputs = pcap_records(raw)
    if len(inputs) != len(rows):
        sys.exit(f"tshark reads {len(rows)} frames, the file holds {len(inputs)}")
    groups = []
    kept, flows = expected_frames(rows, a.cutoff_bytes, a.cutoff_packets, a.timeout * 10**9,
                                  groups)
    expected = []
    for n in kept:
        t, wire, body = inputs[n]
        expected.append((t, wire, body[:a.snaplen] if a.snaplen else body))

    files = []
    for root, _, names in os.walk(a.outdir):
        for name in names:
            # The recordings' field indexes (NAME.pvx) and their directory's catalogue
            # (catalog.pvc) live beside them; they hold no packets.
            if name.endswith((".pvx", ".pvx.part", ".pvc", ".pvc.part")):
                continue
            files.append(os.path.relpath(os.path.join(root, name), a.outdir))
    files.sort()
    leftovers = [f for f in files if f.endswith(".tmp")]
    got = []
    sizes = 0
    for rel in files:
        path = os.path.join(a.outdir, rel)
        sizes += os.path.getsize(path)
        got.extend(read_output(path))

    result = {
        "input_packets": len(inputs),
        "expected_packets": len(expected),
        "expected_bytes": sum(w for _, w, _ in expected),
        "input_bytes": sum(w for _, w, _ in inputs),
        "flows": flows,
        "output_packets": len(got),
        "files": len(files),
        "bytes_on_disk": sizes,
        "tmp_files": leftovers,
    }
    problems = []
    if leftovers:
        problems.append(f"unfinished files left: {leftovers}")
    if a.retention_size and sizes > a.retention_size:
        problems.append(f"{sizes} bytes on disk exceed the budget {a.retention_size}")
    if a.ignore_ts:
        problems += compare_live(got, expected, kept, inputs, groups, a.prefix, result,
                                 a.allow_missing)
    elif a.prefix:
        if got != expected[:len(got)]:
            problems.append("output is not a prefix of the expected frames")
        result["missing"] = len(expected) - len(got)
    elif a.subset:
        i = 0
        for g in got:
            while i < len(expected) and expected[i] != g:
                i += 1
            if i == len(expected):
                problems.append("output is not an in-order subsequence of the expected frames")
                break
            i += 1
        result["missing"] = len(expected) - len(got)
    elif got != expected:
        for n, (g, x) in enumerate(zip(got, expected)):
            if g != x:
                problems.append(f"packet {n}: got ts {g[0]} len {g[1]}, expected ts {x[0]} len {x[1]}")
                break
        else:
            problems.append(f"got {len(got)} packets, expected {len(expected)}")
    result["problems"] = problems
    print(json.dumps(result))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
