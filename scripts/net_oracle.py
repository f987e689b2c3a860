#!/usr/bin/env python3
"""Independent oracle for the "net" summary, computed only from tshark's dissection.

Usage:
    python3 scripts/net_oracle.py FILE [--host-spec CIDR[,CIDR...]] [--bpf EXPR]

Prints one JSON object (see the keys in `summarize`).  Nothing in here uses
code from this project: every number comes from tshark's field output, with
pktvisor's counting rules applied on top of it:

* total        every frame (after the BPF filter, applied with tcpdump first).
* L3           the OUTERMOST IP layer only: the first `ip` / `ipv6` token of
               frame.protocols.  Inner IP (ICMP error quotes, tunnels) is ignored.
* L4           IPv4: first ip.proto (6 tcp, 17 udp, else other) -- so later
               fragments count as their ip.proto.  IPv6: the token following
               `ipv6` and its extension-header tokens (`ipv6.*`) in
               frame.protocols; if that is not a transport (non-first fragment
               -> `data`, truncated frame -> nothing), the `nxt` field of the
               last extension header (or ipv6.nxt) decides.  No IP -> other_l4.
* syn          outermost L4 is TCP, the TCP header is dissected right after the
               outermost IP header, and its SYN bit is set (SYN and SYN/ACK).
* direction    destination in host spec -> in; else source in host spec -> out;
               else unknown_dir (pktvisor's PcapInputStream::process_raw_packet,
               src/inputs/pcap/PcapInputStream.cpp, tests the destination first,
               so host-to-host traffic is "in").  No host spec / no IP -> unknown_dir.
* top_ipv4/6   remote address per frame: source of "in", destination of "out".
* per second   integer part of frame.time_epoch, from the first to the last
               second inclusive, zeros included; bytes are frame.cap_len.

IP reassembly is switched off in tshark so that each fragment stays its own
frame.  Timestamps are parsed as decimal strings (exact integer nanoseconds).
"""

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "frame.cap_len",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.fraghdr.nxt",
    "ipv6.dstopts.nxt",
    "tcp.flags.syn",
]
IDX = {name: i for i, name in enumerate(FIELDS)}

# tshark's protocol-token for an IPv6 extension header -> the field holding
# that header's "next header" value.
IPV6_EXT_NXT = {
    "ipv6.hopopts": "ipv6.hopopts.nxt",
    "ipv6.routing": "ipv6.routing.nxt",
    "ipv6.fraghdr": "ipv6.fraghdr.nxt",
    "ipv6.dstopts": "ipv6.dstopts.nxt",
}


def die(msg, code=2):
    print(f"net_oracle: error: {msg}", file=sys.stderr)
    sys.exit(code)


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


def first(value):
    """First of tshark's comma separated multi-values ('' if absent)."""
    if not value:
        return ""
    return value.split(",", 1)[0]


def parse_bool(value):
    v = first(value).strip()
    if v in ("1", "True", "true"):
        return True
    if v in ("0", "False", "false", ""):
        return False
    try:
        return int(v, 0) != 0
    except ValueError:
        die(f"cannot parse boolean field value {value!r}")


def parse_int(value):
    v = first(value).strip()
    if not v:
        return None
    return int(v, 0)


def parse_host_spec(spec):
    nets = []
    if not spec:
        return nets
    for part in spec.split(","):
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
        self.v4 = [n for n in nets if n.version == 4]
        self.v6 = [n for n in nets if n.version == 6]
        self.cache = {}

    def contains(self, addr_text):
        hit = self.cache.get(addr_text)
        if hit is not None:
            return hit
        addr = ipaddress.ip_address(addr_text)
        nets = self.v4 if addr.version == 4 else self.v6
        hit = any(addr in n for n in nets)
        self.cache[addr_text] = hit
        return hit


def apply_bpf(path, expr, tmpdir):
    tcpdump = shutil.which("tcpdump")
    if not tcpdump:
        die("tcpdump is required for --bpf but was not found in PATH")
    out = os.path.join(tmpdir, "filtered.pcap")
    # nano precision keeps nanosecond timestamps of nanosecond captures intact
    # (microsecond inputs are simply scaled, which is exact).
    cmd = [tcpdump, "--time-stamp-precision=nano", "-r", path, "-w", out, expr]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        die(f"tcpdump BPF filtering failed (exit {res.returncode}): {res.stderr.strip()}")
    return out


def run_tshark(path):
    tshark = shutil.which("tshark")
    if not tshark:
        die("tshark not found in PATH (apt-get install tshark)")
    cmd = [
        tshark, "-n", "-r", path,
        "-o", "ip.defragment:FALSE",
        "-o", "ipv6.defragment:FALSE",
        "-T", "fields",
        "-E", "separator=/t",
        "-E", "header=n",
        "-E", "quote=n",
        "-E", "occurrence=f",
    ]
    for f in FIELDS:
        cmd += ["-e", f]
    errf = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True,
                            bufsize=1 << 20)
    return proc, errf


def l3_l4_of(cols):
    """Return (l3, l4, src, dst, tcp_right_after_ip) for one tshark row."""
    tokens = cols[IDX["frame.protocols"]].split(":")
    l3_pos = None
    for i, t in enumerate(tokens):
        if t == "ip" or t == "ipv6":
            l3_pos = i
            break
    if l3_pos is None:
        return None, "other", None, None, False
    l3 = tokens[l3_pos]
    if l3 == "ip":
        src = first(cols[IDX["ip.src"]])
        dst = first(cols[IDX["ip.dst"]])
        proto = parse_int(cols[IDX["ip.proto"]])
        nxt_pos = l3_pos + 1
    else:
        src = first(cols[IDX["ipv6.src"]])
        dst = first(cols[IDX["ipv6.dst"]])
        nxt_pos = l3_pos + 1
        last_ext = None
        while nxt_pos < len(tokens) and tokens[nxt_pos].startswith("ipv6."):
            last_ext = tokens[nxt_pos]
            nxt_pos += 1
        tok = tokens[nxt_pos] if nxt_pos < len(tokens) else ""
        if tok == "tcp":
            proto = 6
        elif tok == "udp":
            proto = 17
        elif tok in ("", "data", "_ws.malformed", "_ws.short", "_ws.unreassembled"):
            # Non-first fragment or truncated: the header chain decides.
            field = IPV6_EXT_NXT.get(last_ext, "ipv6.nxt")
            proto = parse_int(cols[IDX[field]])
        else:
            proto = None  # icmpv6, esp, ah, ... -> other
    l4 = "tcp" if proto == 6 else "udp" if proto == 17 else "other"
    tcp_after_ip = l4 == "tcp" and nxt_pos < len(tokens) and tokens[nxt_pos] == "tcp"
    return ("ipv4" if l3 == "ip" else "ipv6"), l4, src, dst, tcp_after_ip


def summarize(path, host_spec, allow_truncated=False):
    proc, errf = run_tshark(path)
    hs = HostSpec(host_spec)
    have_spec = bool(host_spec)

    c = dict(total=0, ipv4=0, ipv6=0, tcp=0, udp=0, other_l4=0, syn=0,
             **{"in": 0, "out": 0}, unknown_dir=0)
    top4, top6 = {}, {}
    src_in, dst_out = set(), set()
    first_ns = last_ns = None
    min_s = max_s = None
    per_sec = {}  # second -> [pkts, pkts_in, pkts_out, bytes, bytes_in, bytes_out]
    cap_lens = []

    ncols = len(FIELDS)
    for line in proc.stdout:
        line = line.rstrip("\n")
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) < ncols:
            cols += [""] * (ncols - len(cols))
        ts_ns = parse_epoch_ns(cols[IDX["frame.time_epoch"]])
        cap_len = int(cols[IDX["frame.cap_len"]])
        l3, l4, src, dst, tcp_after_ip = l3_l4_of(cols)

        c["total"] += 1
        cap_lens.append(cap_len)
        if first_ns is None:
            first_ns = ts_ns
        last_ns = ts_ns
        sec = ts_ns // 1_000_000_000
        min_s = sec if min_s is None else min(min_s, sec)
        max_s = sec if max_s is None else max(max_s, sec)

        if l3:
            c[l3] += 1
        c["tcp" if l4 == "tcp" else "udp" if l4 == "udp" else "other_l4"] += 1
        if tcp_after_ip and parse_bool(cols[IDX["tcp.flags.syn"]]):
            c["syn"] += 1

        direction = "unknown_dir"
        if l3 and have_spec and src and dst:
            # Destination first, as PcapInputStream::process_raw_packet does.
            if hs.contains(dst):
                direction = "in"
            elif hs.contains(src):
                direction = "out"
        c[direction] += 1
        if direction != "unknown_dir":
            remote = src if direction == "in" else dst
            top = top4 if l3 == "ipv4" else top6
            top[remote] = top.get(remote, 0) + 1
            if direction == "in":
                src_in.add(src)
            else:
                dst_out.add(dst)

        b = per_sec.get(sec)
        if b is None:
            b = per_sec[sec] = [0, 0, 0, 0, 0, 0]
        b[0] += 1
        b[3] += cap_len
        if direction == "in":
            b[1] += 1
            b[4] += cap_len
        elif direction == "out":
            b[2] += 1
            b[5] += cap_len

    rc = proc.wait()
    errf.seek(0)
    err = "\n".join(l for l in errf.read().splitlines()
                    if l.strip() and "could be dangerous" not in l)
    cut_short = "cut short in the middle of a packet" in err
    if rc != 0 and not (cut_short and allow_truncated):
        hint = " (use --allow-truncated to count the frames before the cut)" if cut_short else ""
        die(f"tshark failed (exit {rc}) on {path}: {err.strip()}{hint}")
    if err.strip():
        print(f"net_oracle: warning: tshark said: {err.strip()}", file=sys.stderr)

    series = {k: [] for k in ("pps_total", "pps_in", "pps_out",
                              "bytes_total", "bytes_in", "bytes_out")}
    if min_s is not None:
        zero = [0] * 6
        for s in range(min_s, max_s + 1):
            b = per_sec.get(s, zero)
            series["pps_total"].append(b[0])
            series["pps_in"].append(b[1])
            series["pps_out"].append(b[2])
            series["bytes_total"].append(b[3])
            series["bytes_in"].append(b[4])
            series["bytes_out"].append(b[5])

    def ordered(d):
        return dict(sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))

    out = dict(c)
    out["top_ipv4"] = ordered(top4)
    out["top_ipv6"] = ordered(top6)
    out["src_ips_in"] = len(src_in)
    out["dst_ips_out"] = len(dst_out)
    out["first_ts_ns"] = first_ns
    out["last_ts_ns"] = last_ns
    for k, v in series.items():
        out[f"{k}_per_second"] = v
    out["frame_cap_len"] = cap_lens
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--host-spec", default="",
                    help="comma separated IPv4/IPv6 CIDRs of the local hosts")
    ap.add_argument("--bpf", default=None, help="BPF expression applied with tcpdump first")
    ap.add_argument("--allow-truncated", action="store_true",
                    help="accept a file whose last record is cut short (tshark exit 2): "
                         "count the complete frames before it, with a warning")
    args = ap.parse_args()

    if not os.path.isfile(args.file):
        die(f"no such file: {args.file}")
    nets = parse_host_spec(args.host_spec)
    with tempfile.TemporaryDirectory(prefix="net_oracle.") as tmp:
        path = args.file
        if args.bpf:
            path = apply_bpf(path, args.bpf, tmp)
        result = summarize(path, nets, args.allow_truncated)
    try:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
