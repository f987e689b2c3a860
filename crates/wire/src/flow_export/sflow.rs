//! sFlow version 5 (sflow.org's sFlow Version 5 specification): a datagram of flow samples and
//! counter samples, each a list of records. Flow samples become [`FlowRecord`]s: the sampled
//! packet header (record 1) decoded through [`crate::decode`], or the sampled IPv4/IPv6
//! records (3, 4); counter samples are counted and read past. pktvisor:
//! `read_sflow_datagram`, `readFlowSample`, `readFlowSample_header` in
//! src/inputs/flow/SflowData.h.

use super::cursor::Cursor;
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use crate::{L3, LinkType, decode as decode_frame};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const FLOW_SAMPLE: u32 = 1;
const COUNTERS_SAMPLE: u32 = 2;
const FLOW_SAMPLE_EXPANDED: u32 = 3;
const COUNTERS_SAMPLE_EXPANDED: u32 = 4;

const RECORD_RAW_HEADER: u32 = 1;
const RECORD_IPV4: u32 = 3;
const RECORD_IPV6: u32 = 4;

/// Header protocols of a raw packet header record.
const HEADER_ETHERNET: u32 = 1;
const HEADER_IPV4: u32 = 11;
const HEADER_IPV6: u32 = 12;

/// Samples per datagram at most: a 64 KiB datagram holds far fewer; a larger count is a lie.
const MAX_SAMPLES: u32 = 8192;

pub(super) fn decode(payload: &[u8], out: &mut Vec<FlowRecord>) -> Result<DatagramInfo, FlowError> {
    let mut c = Cursor::new(payload);
    c.skip(4, "sFlow version")?;
    let agent = address(&mut c)?;
    c.skip(12, "sFlow sub agent id, sequence, uptime")?;
    let n = c.u32("sFlow sample count")?;
    if n > MAX_SAMPLES {
        return Err(FlowError::Invalid {
            what: "sFlow sample count",
            value: n,
        });
    }
    let mut info = DatagramInfo {
        format: Some(FlowFormat::Sflow),
        agent: Some(agent),
        ..DatagramInfo::default()
    };
    for _ in 0..n {
        let kind = c.u32("sFlow sample type")?;
        let len = c.u32("sFlow sample length")?;
        let body = c.take(len as usize, "sFlow sample")?;
        // The enterprise is the top 20 bits: only sflow.org's (0) samples are read.
        match kind {
            FLOW_SAMPLE => flow_sample(body, false, out)?,
            FLOW_SAMPLE_EXPANDED => flow_sample(body, true, out)?,
            COUNTERS_SAMPLE | COUNTERS_SAMPLE_EXPANDED => info.other_records += 1,
            _ => info.other_records += 1,
        }
    }
    Ok(info)
}

fn address(c: &mut Cursor<'_>) -> Result<IpAddr, FlowError> {
    match c.u32("sFlow agent address type")? {
        1 => Ok(IpAddr::V4(Ipv4Addr::from(c.array::<4>("agent address")?))),
        2 => Ok(IpAddr::V6(Ipv6Addr::from(c.array::<16>("agent address")?))),
        t => Err(FlowError::Invalid {
            what: "sFlow agent address type",
            value: t,
        }),
    }
}

fn flow_sample(body: &[u8], expanded: bool, out: &mut Vec<FlowRecord>) -> Result<(), FlowError> {
    let mut c = Cursor::new(body);
    c.skip(4, "flow sample sequence")?;
    c.skip(if expanded { 8 } else { 4 }, "flow sample source id")?;
    let rate = c.u32("sampling rate")?;
    c.skip(8, "sample pool, drops")?;
    // Compact form: the top 2 bits are the format, the low 30 the ifIndex (pktvisor's
    // `readFlowSample`); expanded: a format word, then the value.
    let (if_in, if_out) = if expanded {
        c.skip(4, "input format")?;
        let i = c.u32("input")?;
        c.skip(4, "output format")?;
        (i, c.u32("output")?)
    } else {
        let i = c.u32("input")? & 0x3fff_ffff;
        (i, c.u32("output")? & 0x3fff_ffff)
    };
    let n = c.u32("flow record count")?;
    let mut rec = FlowRecord {
        sampling_rate: rate,
        packets: 1,
        if_in: Some(if_in),
        if_out: Some(if_out),
        ..FlowRecord::EMPTY
    };
    for _ in 0..n {
        let kind = c.u32("flow record type")?;
        let len = c.u32("flow record length")?;
        let data = c.take(len as usize, "flow record")?;
        match kind {
            RECORD_RAW_HEADER => raw_header(data, &mut rec)?,
            RECORD_IPV4 => sampled_ipv4(data, &mut rec)?,
            RECORD_IPV6 => sampled_ipv6(data, &mut rec)?,
            _ => {}
        }
    }
    // A sample with no packet record still stands for traffic on its interfaces, as in
    // pktvisor (which takes the sample with empty addresses).
    out.push(rec);
    Ok(())
}

fn raw_header(data: &[u8], rec: &mut FlowRecord) -> Result<(), FlowError> {
    let mut c = Cursor::new(data);
    let proto = c.u32("header protocol")?;
    let frame_len = c.u32("frame length")?;
    c.skip(4, "stripped")?;
    let hlen = c.u32("header length")?;
    let header = c.take(hlen as usize, "sampled header")?;
    rec.bytes = u64::from(frame_len);
    let link = match proto {
        HEADER_ETHERNET => LinkType::Ethernet,
        HEADER_IPV4 => LinkType::Ipv4,
        HEADER_IPV6 => LinkType::Ipv6,
        // Token ring, FDDI, 802.11 ...: the frame length counts, the header is not read.
        _ => return Ok(()),
    };
    let d = decode_frame(link, header);
    if d.l3 == L3::None {
        return Ok(());
    }
    rec.src = Some(d.src);
    rec.dst = Some(d.dst);
    rec.protocol = match d.l4 {
        crate::L4::Tcp => 6,
        crate::L4::Udp => 17,
        crate::L4::Other(p) => p,
        crate::L4::None => 0,
    };
    rec.src_port = d.src_port;
    rec.dst_port = d.dst_port;
    Ok(())
}

fn sampled_ipv4(data: &[u8], rec: &mut FlowRecord) -> Result<(), FlowError> {
    let mut c = Cursor::new(data);
    rec.bytes = u64::from(c.u32("sampled IPv4 length")?);
    rec.protocol = c.u32("sampled IPv4 protocol")? as u8;
    rec.src = Some(IpAddr::V4(Ipv4Addr::from(
        c.array::<4>("sampled IPv4 src")?,
    )));
    rec.dst = Some(IpAddr::V4(Ipv4Addr::from(
        c.array::<4>("sampled IPv4 dst")?,
    )));
    rec.src_port = c.u32("sampled IPv4 src port")? as u16;
    rec.dst_port = c.u32("sampled IPv4 dst port")? as u16;
    c.skip(4, "sampled IPv4 tcp flags")?;
    rec.tos = Some(c.u32("sampled IPv4 tos")? as u8);
    Ok(())
}

fn sampled_ipv6(data: &[u8], rec: &mut FlowRecord) -> Result<(), FlowError> {
    let mut c = Cursor::new(data);
    rec.bytes = u64::from(c.u32("sampled IPv6 length")?);
    rec.protocol = c.u32("sampled IPv6 protocol")? as u8;
    rec.src = Some(IpAddr::V6(Ipv6Addr::from(
        c.array::<16>("sampled IPv6 src")?,
    )));
    rec.dst = Some(IpAddr::V6(Ipv6Addr::from(
        c.array::<16>("sampled IPv6 dst")?,
    )));
    rec.src_port = c.u32("sampled IPv6 src port")? as u16;
    rec.dst_port = c.u32("sampled IPv6 dst port")? as u16;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(v: &mut Vec<u8>, words: &[u32]) {
        for w in words {
            v.extend_from_slice(&w.to_be_bytes());
        }
    }

    /// A datagram laid out by hand from the sFlow v5 specification (sflow_version_5.txt,
    /// sections "sample_datagram_v5", "flow_sample", "sampled_header"): agent 192.0.2.1, one
    /// flow sample at 1-in-512 on ifIndex 3 -> 7 whose raw header is an Ethernet frame of
    /// 198.51.100.1:5353 -> 198.51.100.2:53 UDP (frame length 90), then one counters sample.
    fn datagram() -> Vec<u8> {
        // Ethernet + IPv4 + UDP header, 42 bytes, padded to 44.
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45, 0x28, 0, 76, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2,
        ]);
        frame.extend_from_slice(&[0x14, 0xe9, 0, 53, 0, 56, 0, 0]);
        let hlen = frame.len() as u32;
        frame.extend_from_slice(&[0, 0]);
        let mut header = Vec::new();
        be(&mut header, &[HEADER_ETHERNET, 90, 4, hlen]);
        header.extend_from_slice(&frame);
        let mut sample = Vec::new();
        be(
            &mut sample,
            &[1, 3, 512, 5120, 0, 3, 7, 1, RECORD_RAW_HEADER],
        );
        be(&mut sample, &[header.len() as u32]);
        sample.extend_from_slice(&header);
        let mut d = Vec::new();
        be(&mut d, &[5, 1]);
        d.extend_from_slice(&[192, 0, 2, 1]);
        be(&mut d, &[0, 10, 1000, 2, FLOW_SAMPLE, sample.len() as u32]);
        d.extend_from_slice(&sample);
        be(&mut d, &[COUNTERS_SAMPLE, 12, 1, 3, 0]);
        d
    }

    #[test]
    fn flow_sample_through_the_packet_decoder() {
        let d = datagram();
        let mut out = Vec::new();
        let info = decode(&d, &mut out).unwrap();
        assert_eq!(info.agent, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(info.other_records, 1);
        assert_eq!(out.len(), 1);
        let r = out[0];
        assert_eq!(r.src, Some("198.51.100.1".parse().unwrap()));
        assert_eq!(r.dst, Some("198.51.100.2".parse().unwrap()));
        assert_eq!((r.protocol, r.src_port, r.dst_port), (17, 5353, 53));
        assert_eq!((r.bytes, r.packets, r.sampling_rate), (90, 1, 512));
        assert_eq!((r.if_in, r.if_out), (Some(3), Some(7)));
    }

    #[test]
    fn truncations_are_errors() {
        let d = datagram();
        for n in 0..d.len() {
            let mut out = Vec::new();
            assert!(decode(&d[..n], &mut out).is_err(), "{n} bytes");
        }
    }
}
