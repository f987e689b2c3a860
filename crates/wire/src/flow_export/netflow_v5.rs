//! NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records (Cisco's "NetFlow Export
//! Datagram Format"; pktvisor's `process_netflow_v5`, src/inputs/flow/NetflowData.h).

use super::cursor::Cursor;
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use std::net::{IpAddr, Ipv4Addr};

pub const HEADER_LEN: usize = 24;
pub const RECORD_LEN: usize = 48;
/// The most records a v5 datagram carries (pktvisor's `NF5_MAXFLOWS`).
pub const MAX_RECORDS: u16 = 30;

pub(super) fn decode(payload: &[u8], out: &mut Vec<FlowRecord>) -> Result<DatagramInfo, FlowError> {
    let mut c = Cursor::new(payload);
    c.skip(2, "NetFlow v5 version")?;
    let count = c.u16("NetFlow v5 count")?;
    c.skip(4, "NetFlow v5 uptime")?;
    let secs = c.u32("NetFlow v5 unix_secs")?;
    c.skip(12, "NetFlow v5 header")?;
    if count > MAX_RECORDS {
        return Err(FlowError::Invalid {
            what: "NetFlow v5 record count",
            value: u32::from(count),
        });
    }
    // pktvisor refuses a datagram whose size is not exactly header + count records; so do we
    // when it is short (trailing bytes are ignored).
    if c.remaining() < usize::from(count) * RECORD_LEN {
        return Err(FlowError::BadLength {
            what: "NetFlow v5 datagram",
            value: payload.len() as u32,
        });
    }
    for _ in 0..count {
        let r = c.take(RECORD_LEN, "NetFlow v5 record")?;
        out.push(record(r)?);
    }
    Ok(DatagramInfo {
        format: Some(FlowFormat::NetflowV5),
        export_secs: Some(secs),
        ..DatagramInfo::default()
    })
}

fn record(r: &[u8]) -> Result<FlowRecord, FlowError> {
    let mut c = Cursor::new(r);
    let src = Ipv4Addr::from(c.array::<4>("srcaddr")?);
    let dst = Ipv4Addr::from(c.array::<4>("dstaddr")?);
    c.skip(4, "nexthop")?;
    let if_in = c.u16("input")?;
    let if_out = c.u16("output")?;
    let packets = c.u32("dPkts")?;
    let bytes = c.u32("dOctets")?;
    c.skip(8, "first/last")?;
    let src_port = c.u16("srcport")?;
    let dst_port = c.u16("dstport")?;
    c.skip(2, "pad1/tcp_flags")?;
    let protocol = c.u8("prot")?;
    let tos = c.u8("tos")?;
    Ok(FlowRecord {
        src: Some(IpAddr::V4(src)),
        dst: Some(IpAddr::V4(dst)),
        protocol,
        src_port,
        dst_port,
        tos: Some(tos),
        bytes: u64::from(bytes),
        packets: u64::from(packets),
        sampling_rate: 1,
        if_in: Some(u32::from(if_in)),
        if_out: Some(u32::from(if_out)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v5 datagram with one record, laid out by hand from Cisco's format table: 10.0.0.1:1234
    /// -> 10.0.0.2:80 TCP, 3 packets, 180 octets, input 2, output 3, tos 0x28.
    fn one_record() -> Vec<u8> {
        let mut d = vec![0, 5, 0, 1];
        d.extend_from_slice(&[0, 0, 0, 100]); // uptime
        d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        d.extend_from_slice(&[0; 12]);
        d.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0]);
        d.extend_from_slice(&[0, 2, 0, 3]);
        d.extend_from_slice(&3u32.to_be_bytes());
        d.extend_from_slice(&180u32.to_be_bytes());
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&1234u16.to_be_bytes());
        d.extend_from_slice(&80u16.to_be_bytes());
        d.extend_from_slice(&[0, 0x12, 6, 0x28]);
        d.extend_from_slice(&[0; 8]);
        d
    }

    #[test]
    fn decodes_a_record() {
        let d = one_record();
        assert_eq!(d.len(), HEADER_LEN + RECORD_LEN);
        let mut out = Vec::new();
        let info = decode(&d, &mut out).unwrap();
        assert_eq!(info.export_secs, Some(1_700_000_000));
        assert_eq!(out.len(), 1);
        let r = out[0];
        assert_eq!(r.src, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(r.dst, Some("10.0.0.2".parse().unwrap()));
        assert_eq!((r.src_port, r.dst_port, r.protocol), (1234, 80, 6));
        assert_eq!((r.packets, r.bytes, r.tos), (3, 180, Some(0x28)));
        assert_eq!((r.if_in, r.if_out), (Some(2), Some(3)));
    }

    #[test]
    fn refuses_short_and_oversized_counts() {
        let d = one_record();
        let mut out = Vec::new();
        assert!(matches!(
            decode(&d[..d.len() - 1], &mut out),
            Err(FlowError::BadLength { .. })
        ));
        let mut d2 = d.clone();
        d2[3] = 31;
        assert!(matches!(
            decode(&d2, &mut out),
            Err(FlowError::Invalid { .. })
        ));
        for n in 0..HEADER_LEN {
            assert!(decode(&d[..n], &mut out).is_err());
        }
    }
}
