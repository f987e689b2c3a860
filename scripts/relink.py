#!/usr/bin/env python3
"""Rewrite an Ethernet pcap so the same packets sit on another link type.

Usage:
    python3 scripts/relink.py IN.pcap OUT.pcap --to raw|null|loop|sll|sll2|ipv4|ipv6

Every frame's Ethernet header (with any 802.1Q / 802.1ad / QinQ tags) is
replaced by the target link-layer header; the network-layer bytes are copied
unchanged, so tshark stays the oracle for the result:

    raw   LINKTYPE_RAW        101  bare IPv4/IPv6
    null  LINKTYPE_NULL         0  4-byte address family, little-endian
                                   (2 = AF_INET, 24 = BSD AF_INET6; --af6 to change)
    loop  LINKTYPE_LOOP       108  4-byte address family, big-endian
    sll   LINKTYPE_LINUX_SLL  113  16-byte Linux cooked v1 header
    sll2  LINKTYPE_LINUX_SLL2 276  20-byte Linux cooked v2 header
    ipv4  LINKTYPE_IPV4       228  bare IPv4 only
    ipv6  LINKTYPE_IPV6       229  bare IPv6 only

Frames that the target cannot represent (non-IP for raw/null/loop/ipv4/ipv6,
the other IP family for ipv4/ipv6, or frames too short to hold an Ethernet
header) are dropped and counted on stderr.  Timestamps are kept;
caplen / orig_len change by the header size difference.  The output keeps
the input's byte order and timestamp precision (micro or nano).  Only classic
pcap input is read (convert pcapng with `editcap -F pcap` first).
"""

import argparse
import struct
import sys

LINKTYPE_ETHERNET = 1
TARGETS = {
    "raw": 101,
    "null": 0,
    "loop": 108,
    "sll": 113,
    "sll2": 276,
    "ipv4": 228,
    "ipv6": 229,
}
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100, 0x9200)
LINUX_SLL_P_802_3 = 0x0001
LINUX_SLL_P_802_2 = 0x0004
ARPHRD_ETHER = 1
AF_INET = 2

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}


def die(msg):
    print(f"relink: error: {msg}", file=sys.stderr)
    sys.exit(2)


def strip_ethernet(frame):
    """Return (ethertype, payload_offset, src_mac, dst_mac) or None if too short.

    ethertype values <= 1500 are 802.3 length fields (LLC follows)."""
    if len(frame) < 14:
        return None
    dst = frame[0:6]
    src = frame[6:12]
    off = 12
    (etype,) = struct.unpack_from(">H", frame, off)
    off += 2
    while etype in VLAN_TPIDS:
        if len(frame) < off + 4:
            return None
        (etype,) = struct.unpack_from(">H", frame, off + 2)
        off += 4
    return etype, off, src, dst


def ip_version(frame, off):
    if len(frame) <= off:
        return None
    return frame[off] >> 4


def sll_pkttype(dst_mac):
    if dst_mac == b"\xff" * 6:
        return 1  # LINUX_SLL_BROADCAST
    if dst_mac[0] & 1:
        return 2  # LINUX_SLL_MULTICAST
    return 0  # LINUX_SLL_HOST


def sll_protocol(etype, frame, off):
    if etype > 1500:
        return etype
    # 802.3 frame: Linux reports 802.2 LLC, or raw 802.3 (Novell) for 0xFFFF.
    if frame[off:off + 2] == b"\xff\xff":
        return LINUX_SLL_P_802_3
    return LINUX_SLL_P_802_2


def build_header(target, etype, off, frame, src, dst, af6, ifindex):
    """Return the new link header bytes, or None if the frame must be dropped."""
    is_ip = etype in (ETH_P_IP, ETH_P_IPV6)
    if target in ("raw", "null", "loop", "ipv4", "ipv6"):
        if not is_ip:
            return None
        ver = ip_version(frame, off)
        fam = 4 if etype == ETH_P_IP else 6
        if ver is not None and ver != fam:
            # ethertype and IP version disagree: trust neither, drop.
            return None
        if target == "raw":
            return b""
        if target == "ipv4":
            return b"" if fam == 4 else None
        if target == "ipv6":
            return b"" if fam == 6 else None
        af = AF_INET if fam == 4 else af6
        return struct.pack("<I" if target == "null" else ">I", af)
    proto = sll_protocol(etype, frame, off)
    ptype = sll_pkttype(dst)
    addr = src + b"\x00\x00"
    if target == "sll":
        return struct.pack(">HHH8sH", ptype, ARPHRD_ETHER, 6, addr, proto)
    if target == "sll2":
        return struct.pack(">HHIHBB8s", proto, 0, ifindex, ARPHRD_ETHER, ptype, 6, addr)
    raise AssertionError(target)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--to", required=True, choices=sorted(TARGETS))
    ap.add_argument("--af6", type=int, default=24,
                    help="AF_INET6 value for null/loop (24 BSD, 28 FreeBSD, 30 macOS); default 24")
    ap.add_argument("--ifindex", type=int, default=1, help="interface index written in sll2 headers")
    args = ap.parse_args()

    try:
        fin = open(args.input, "rb")
    except OSError as e:
        die(f"cannot open {args.input}: {e}")
    with fin:
        ghdr = fin.read(24)
        if len(ghdr) < 24:
            die(f"{args.input}: too short for a pcap file header")
        magic = ghdr[:4]
        if magic not in MAGICS:
            if magic == b"\x0a\x0d\x0d\x0a":
                die(f"{args.input} is pcapng; convert it first: editcap -F pcap IN OUT")
            die(f"{args.input}: not a pcap file (magic {magic.hex()})")
        bo, _nano = MAGICS[magic]
        vmaj, vmin, thiszone, sigfigs, snaplen, linktype = struct.unpack(bo + "HHiIII", ghdr[4:])
        # The upper bits of the link-type field can carry FCS info; the low 16 bits are the type.
        if linktype & 0xFFFF != LINKTYPE_ETHERNET:
            die(f"{args.input}: link type {linktype & 0xFFFF} is not Ethernet (1)")

        new_lt = TARGETS[args.to]
        max_hdr = {"raw": 0, "ipv4": 0, "ipv6": 0, "null": 4, "loop": 4, "sll": 16, "sll2": 20}[args.to]
        new_snap = min(snaplen + max(0, max_hdr - 14), 0x7FFFFFFF) if snaplen else 0
        rec = struct.Struct(bo + "IIII")

        kept = dropped_nonip = dropped_family = dropped_short = 0
        with open(args.output, "wb") as fout:
            fout.write(magic + struct.pack(bo + "HHiIII", vmaj, vmin, thiszone, sigfigs, new_snap, new_lt))
            while True:
                h = fin.read(16)
                if not h:
                    break
                if len(h) < 16:
                    print("relink: warning: truncated record header at end of file", file=sys.stderr)
                    break
                ts_s, ts_frac, caplen, origlen = rec.unpack(h)
                frame = fin.read(caplen)
                if len(frame) < caplen:
                    print("relink: warning: truncated last record, ignored", file=sys.stderr)
                    break
                parsed = strip_ethernet(frame)
                if parsed is None:
                    dropped_short += 1
                    continue
                etype, off, src, dst = parsed
                hdr = build_header(args.to, etype, off, frame, src, dst, args.af6, args.ifindex)
                if hdr is None:
                    if etype in (ETH_P_IP, ETH_P_IPV6):
                        dropped_family += 1
                    else:
                        dropped_nonip += 1
                    continue
                payload = frame[off:]
                new_cap = len(hdr) + len(payload)
                new_orig = max(origlen - off + len(hdr), new_cap)
                fout.write(rec.pack(ts_s, ts_frac, new_cap, new_orig))
                fout.write(hdr)
                fout.write(payload)
                kept += 1

    dropped = dropped_nonip + dropped_family + dropped_short
    print(f"relink: {args.input} -> {args.output} (linktype {new_lt}, --to {args.to}): "
          f"kept {kept}, dropped {dropped} "
          f"(non-IP {dropped_nonip}, other IP family/bad version {dropped_family}, "
          f"too short {dropped_short})", file=sys.stderr)


if __name__ == "__main__":
    main()
