#!/usr/bin/env python3
"""Writes testdata/edge/*.pcap: small hand-made captures of the traffic that pktvisor's
fixtures do not show, each one a case where a decoder or a DNS counter could go wrong.
crates/cli/tests/tshark_agrees.rs compares our summary of each with tshark's dissection
(scripts/net_oracle.py, scripts/dns_oracle.py); record_files.rs and sharded_file.rs run them
through the recorder and the sharded file source.

    python3 -m venv /tmp/scapy && /tmp/scapy/bin/pip install scapy
    /tmp/scapy/bin/python scripts/make_edge_captures.py [OUT_DIR]   # default testdata/edge

The files are committed; run this only to change them. Addresses are documentation ranges
(198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).

  pppoe      DNS over IPv4 in PPPoE sessions
  mpls       DNS under one and two MPLS labels
  gre        DNS inside GRE (counted by the outer header, not as DNS)
  v6ext      DNS after IPv6 hop-by-hop, destination-options and routing headers
  frag4/6    a 2.6 kB TXT answer in IPv4 / IPv6 fragments (never DNS: no reassembly)
  qinq       802.1ad + 802.1Q tags
  icmpq      an ICMP error quoting a DNS query (not a second query)
  icmp6q     the same with ICMPv6
  malformed  header only, two questions, a cut name, a pointer loop, counts that lie, a
             2-byte payload, mixed case, a NUL inside a label, the root
  mdns       mDNS (5353) and LLMNR (5355), IPv4 and IPv6 multicast
  p53        port 53 on both ends
  ipopt      IPv4 options
  rcodes     NOTIFY, UPDATE, STATUS opcodes; FORMERR..NOTAUTH rcodes
  tcpmulti   three queries in one TCP stream split mid-message, replies split after 1 byte
  padding    header-only messages in frames padded with junk trailer bytes
  udplen     a UDP length past the IP payload, and one below 8
  timing     a retransmitted query, a reply after the 5 s TTL, a slow answer inside it,
             queries open at the end
  snap64/80  DNS cut by a 64- and 80-byte snap length
"""
import os
import struct
import sys

from scapy.all import *  # noqa: F403 (scapy is built to be used this way)
from scapy.layers.l2 import Dot1AD
from scapy.contrib.mpls import MPLS
conf.verb=0
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "testdata", "edge")
os.makedirs(OUT, exist_ok=True)
C="198.51.100.10"; S="198.51.100.53"; C6="2001:db8::10"; S6="2001:db8::53"
E=lambda: Ether(src="02:00:00:00:00:01",dst="02:00:00:00:00:02")
def q(i,name="www.example.com",qt="A"): return DNS(id=i,rd=1,qd=DNSQR(qname=name,qtype=qt))
def r(i,name="www.example.com",qt="A",rc=0,an=1):
    return DNS(id=i,qr=1,aa=1,rcode=rc,qd=DNSQR(qname=name,qtype=qt),an=(DNSRR(rrname=name,type="A",rdata="192.0.2.1") if an else None))
t0=1700000000.0
def stamp(pkts,step=0.001):
    for k,p in enumerate(pkts): p.time=t0+k*step
    return pkts
out={}
# PPPoE session
out["pppoe"]=[E()/PPPoE(sessionid=1)/PPP(proto=0x0021)/IP(src=C,dst=S)/UDP(sport=40000+i,dport=53)/q(i) for i in range(5)]+\
 [E()/PPPoE(sessionid=1)/PPP(proto=0x0021)/IP(src=S,dst=C)/UDP(sport=53,dport=40000+i)/r(i) for i in range(5)]
# MPLS
out["mpls"]=[E()/MPLS(label=100,s=1,ttl=64)/IP(src=C,dst=S)/UDP(sport=41000+i,dport=53)/q(i) for i in range(4)]+\
 [E()/MPLS(label=100,s=0)/MPLS(label=200,s=1)/IP(src=S,dst=C)/UDP(sport=53,dport=41000+i)/r(i) for i in range(4)]
# GRE
out["gre"]=[E()/IP(src="203.0.113.1",dst="203.0.113.2")/GRE()/IP(src=C,dst=S)/UDP(sport=42000+i,dport=53)/q(i) for i in range(3)]+\
 [E()/IP(src="203.0.113.2",dst="203.0.113.1")/GRE()/IP(src=S,dst=C)/UDP(sport=53,dport=42000+i)/r(i,rc=3,an=0) for i in range(3)]
# IPv6 ext headers
out["v6ext"]=[E()/IPv6(src=C6,dst=S6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/UDP(sport=43000+i,dport=53)/q(i,qt="AAAA") for i in range(3)]+\
 [E()/IPv6(src=S6,dst=C6)/IPv6ExtHdrRouting()/UDP(sport=53,dport=43000+i)/r(i,qt="AAAA") for i in range(3)]
# IPv4 fragmented big response
big=DNS(id=77,qr=1,qd=DNSQR(qname="big.example.com",qtype="TXT"),an=[DNSRR(rrname="big.example.com",type="TXT",rdata="x"*200) for _ in range(12)])
frs=fragment(IP(src=S,dst=C,id=999)/UDP(sport=53,dport=44000)/big,fragsize=800)
out["frag4"]=[E()/IP(src=C,dst=S)/UDP(sport=44000,dport=53)/q(77,"big.example.com","TXT")]+[E()/f for f in frs]
# IPv6 fragment
fr6=fragment6(IPv6(src=S6,dst=C6)/IPv6ExtHdrFragment(id=5)/UDP(sport=53,dport=44001)/big,1000)
out["frag6"]=[E()/IPv6(src=C6,dst=S6)/UDP(sport=44001,dport=53)/q(77,"big.example.com","TXT")]+[E()/f for f in fr6]
# QinQ
out["qinq"]=[E()/Dot1AD(vlan=10)/Dot1Q(vlan=20)/IP(src=C,dst=S)/UDP(sport=45000+i,dport=53)/q(i) for i in range(3)]+\
 [E()/Dot1AD(vlan=10)/Dot1Q(vlan=20)/IP(src=S,dst=C)/UDP(sport=53,dport=45000+i)/r(i) for i in range(3)]
# ICMP quoting DNS
out["icmpq"]=[E()/IP(src=C,dst=S)/UDP(sport=46000,dport=53)/q(1), E()/IP(src=S,dst=C)/ICMP(type=3,code=3)/IP(src=C,dst=S)/UDP(sport=46000,dport=53)/q(1)]
# malformed dns
raw=[b"\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",  # qd=0
     b"\x00\x02\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00"+b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"+b"\x03foo\x03org\x00\x00\x1c\x00\x01",  # qd=2
     b"\x00\x03\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03ww",  # truncated name
     b"\x00\x04\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # self pointer loop
     b"\x00\x05\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",  # ancount lies
     b"\x00\x06",  # 2 bytes
     b"\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03WwW\x07ExAmPlE\x03CoM\x00\x00\x01\x00\x01",  # mixed case
     b"\x00\x08\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04ab\x00c\x03com\x00\x00\x01\x00\x01",  # nul in label
     b"\x00\x09\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01",  # root NS
     ]
out["malformed"]=[E()/IP(src=C,dst=S)/UDP(sport=47000+k,dport=53)/Raw(b) for k,b in enumerate(raw)]
# mDNS/LLMNR
out["mdns"]=[E()/IP(src=C,dst="224.0.0.251")/UDP(sport=5353,dport=5353)/DNS(id=0,qd=DNSQR(qname="printer.local",qtype="PTR")),
  E()/IP(src=S,dst="224.0.0.251")/UDP(sport=5353,dport=5353)/DNS(id=0,qr=1,aa=1,an=DNSRR(rrname="printer.local",type="A",rdata="198.51.100.53")),
  E()/IP(src=C,dst="224.0.0.252")/UDP(sport=48000,dport=5355)/q(9,"host1"),
  E()/IP(src=S,dst=C)/UDP(sport=5355,dport=48000)/r(9,"host1"),
  E()/IPv6(src="fe80::1",dst="ff02::fb")/UDP(sport=5353,dport=5353)/DNS(id=0,qd=DNSQR(qname="_ipp._tcp.local",qtype="PTR"))]
# 53->53
out["p53"]=[E()/IP(src=C,dst=S)/UDP(sport=53,dport=53)/q(11), E()/IP(src=S,dst=C)/UDP(sport=53,dport=53)/r(11)]
# IPv4 options
out["ipopt"]=[E()/IP(src=C,dst=S,options=[IPOption_RR()])/UDP(sport=49000,dport=53)/q(12), E()/IP(src=S,dst=C)/UDP(sport=53,dport=49000)/r(12)/Raw(b"")]
# opcodes/rcodes
rc=[]
for i,(op,rcd) in enumerate([(5,0),(4,0),(0,6),(0,7),(0,9),(0,5),(0,1),(0,4),(2,0)]):
    rc.append(E()/IP(src=C,dst=S)/UDP(sport=50000+i,dport=53)/DNS(id=100+i,opcode=op,qd=DNSQR(qname="z%d.example.org"%i,qtype="SOA")))
    rc.append(E()/IP(src=S,dst=C)/UDP(sport=53,dport=50000+i)/DNS(id=100+i,qr=1,opcode=op,rcode=rcd,qd=DNSQR(qname="z%d.example.org"%i,qtype="SOA")))
out["rcodes"]=rc
# TCP DNS: 2 msgs + split
def tcpdns(msgs):
    b=b""
    for m in msgs:
        mb=bytes(m); b+=len(mb).to_bytes(2,"big")+mb
    return b
cs=C; ss=S; sp=51000
seq=1000; sseq=5000
pk=[E()/IP(src=cs,dst=ss)/TCP(sport=sp,dport=53,flags="S",seq=seq-1),
    E()/IP(src=ss,dst=cs)/TCP(sport=53,dport=sp,flags="SA",seq=sseq-1,ack=seq),
    E()/IP(src=cs,dst=ss)/TCP(sport=sp,dport=53,flags="A",seq=seq,ack=sseq)]
qb=tcpdns([q(201,"a.example.net"),q(202,"b.example.net"),q(203,"c.example.net")])
cut=len(qb)-10
pk.append(E()/IP(src=cs,dst=ss)/TCP(sport=sp,dport=53,flags="PA",seq=seq,ack=sseq)/Raw(qb[:cut]))
pk.append(E()/IP(src=cs,dst=ss)/TCP(sport=sp,dport=53,flags="PA",seq=seq+cut,ack=sseq)/Raw(qb[cut:]))
rb=tcpdns([r(201,"a.example.net"),r(202,"b.example.net",rc=3,an=0),r(203,"c.example.net")])
pk.append(E()/IP(src=ss,dst=cs)/TCP(sport=53,dport=sp,flags="PA",seq=sseq,ack=seq+len(qb))/Raw(rb[:1]))
pk.append(E()/IP(src=ss,dst=cs)/TCP(sport=53,dport=sp,flags="PA",seq=sseq+1,ack=seq+len(qb))/Raw(rb[1:]))
pk.append(E()/IP(src=cs,dst=ss)/TCP(sport=sp,dport=53,flags="FA",seq=seq+len(qb),ack=sseq+len(rb)))
out["tcpmulti"]=pk
# Ethernet padding after a tiny DNS message, junk trailer bytes
out["padding"]=[E()/IP(src=C,dst=S)/UDP(sport=53000,dport=53)/Raw(b"\x00\x21\x01\x00"+b"\x00"*8)/Raw(b"\xde\xad\xbe\xef\x01\x02"),
  E()/IP(src=S,dst=C)/UDP(sport=53,dport=53000)/Raw(b"\x00\x21\x81\x83"+b"\x00"*8)/Raw(b"\xff"*6)]
for p in out["padding"]:
    p[IP].len=20+8+12; p[UDP].len=8+12
# UDP length past the IP payload, and below 8
bad1=E()/IP(src=C,dst=S)/UDP(sport=53001,dport=53,len=200)/q(31)
bad2=E()/IP(src=C,dst=S)/UDP(sport=53002,dport=53,len=4)/q(32)
out["udplen"]=[bad1,bad2,E()/IP(src=S,dst=C)/UDP(sport=53,dport=53001)/r(31)]
# ICMPv6 error quoting a DNS query
out["icmp6q"]=[E()/IPv6(src=C6,dst=S6)/UDP(sport=46001,dport=53)/q(2,qt="AAAA"),
  E()/IPv6(src=S6,dst=C6)/ICMPv6DestUnreach(code=4)/IPv6(src=C6,dst=S6)/UDP(sport=46001,dport=53)/q(2,qt="AAAA")]
for k,v in out.items():
    wrpcap(os.path.join(OUT, "%s.pcap" % k), stamp(v))
# snap length cuts
tr=stamp([E()/IP(src=C,dst=S)/UDP(sport=52000+i,dport=53)/q(i,"a-very-long-name-to-cut.example.com") for i in range(3)]+[E()/IP(src=S,dst=C)/UDP(sport=53,dport=52000+i)/r(i,"a-very-long-name-to-cut.example.com") for i in range(3)])
# Timing: a query retransmitted with the same id, one reply; a reply after the TTL; a query
# still open at the end.
tm=[(0.0,E()/IP(src=C,dst=S)/UDP(sport=54000,dport=53)/q(41,"retry.example.com")),
    (1.0,E()/IP(src=C,dst=S)/UDP(sport=54000,dport=53)/q(41,"retry.example.com")),
    (1.2,E()/IP(src=S,dst=C)/UDP(sport=53,dport=54000)/r(41,"retry.example.com")),
    (2.0,E()/IP(src=C,dst=S)/UDP(sport=54001,dport=53)/q(42,"late.example.com")),
    (8.5,E()/IP(src=S,dst=C)/UDP(sport=53,dport=54001)/r(42,"late.example.com")),
    (9.0,E()/IP(src=C,dst=S)/UDP(sport=54002,dport=53)/q(43,"slowok.example.com")),
    (13.9,E()/IP(src=S,dst=C)/UDP(sport=53,dport=54002)/r(43,"slowok.example.com")),
    (14.0,E()/IPv6(src=C6,dst=S6)/UDP(sport=54003,dport=53)/q(44,"open.example.com")),
    (15.0,E()/IP(src=C,dst=S)/UDP(sport=54004,dport=53)/q(45,"end.example.com"))]
for t,p in tm: p.time=t0+t
wrpcap(os.path.join(OUT, "timing.pcap"),[p for _,p in tm])
print("ok", list(out))
def write_cut(path, pkts, snap):
    with open(path,"wb") as f:
        f.write(struct.pack("<IHHiIII",0xa1b2c3d4,2,4,0,0,snap,1))
        for p in pkts:
            b=bytes(p); c=b[:snap]
            f.write(struct.pack("<IIII",int(p.time),int(round((p.time%1)*1e6)),len(c),len(b))); f.write(c)
write_cut(os.path.join(OUT, "snap64.pcap"), tr, 64)
write_cut(os.path.join(OUT, "snap80.pcap"), tr, 80)
