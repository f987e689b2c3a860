//! Packets past their flow's cutoff, kept for the file's index though not for the file: the
//! index covers all traffic (issue 15), and each of its packets knows whether its bytes are
//! stored. Only their first [`CUT_HEAD_BYTES`] are kept — the headers every indexed field but a
//! deep payload's comes from — and at most [`MAX_CUT_PER_FILE`] a file; past that they are
//! counted (`pv_record_cut_not_indexed_total`), not kept.

/// Bytes kept of a cut packet: an Ethernet header with two VLAN tags, IPv6 with a 16-byte
/// extension header and a TCP header with options (14 + 8 + 40 + 16 + 60 = 138) fit in 160.
pub const CUT_HEAD_BYTES: usize = 160;
/// Cut packets indexed per file at most: ~190 bytes each, so a file's list stays under 200 MB
/// whatever the rotation settings (a 60 s file at 1 M packets/s of bulk traffic reaches it).
pub const MAX_CUT_PER_FILE: usize = 1 << 20;

/// One cut packet: where it came among the file's stored packets, and what the index needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutPacket {
    /// Stored packets of the file before it.
    pub after: u64,
    pub ts_ns: u64,
    pub orig_len: u32,
    pub linktype: u32,
    /// Its kept bytes in [`CutPackets::bytes`].
    start: usize,
    len: usize,
}

/// The cut packets of one file, in arrival order.
#[derive(Clone, Debug, Default)]
pub struct CutPackets {
    packets: Vec<CutPacket>,
    bytes: Vec<u8>,
}

impl CutPackets {
    /// Keeps a cut packet (its first bytes); false when the file's list is full.
    pub fn push(
        &mut self,
        after: u64,
        ts_ns: u64,
        orig_len: u32,
        linktype: u32,
        data: &[u8],
    ) -> bool {
        if self.packets.len() >= MAX_CUT_PER_FILE {
            return false;
        }
        let head = &data[..data.len().min(CUT_HEAD_BYTES)];
        self.packets.push(CutPacket {
            after,
            ts_ns,
            orig_len,
            linktype,
            start: self.bytes.len(),
            len: head.len(),
        });
        self.bytes.extend_from_slice(head);
        true
    }

    /// Appends `tail` (the packets cut after these, of the same file).
    pub fn append(&mut self, tail: CutPackets) {
        let base = self.bytes.len();
        self.packets
            .extend(tail.packets.into_iter().map(|p| CutPacket {
                start: p.start + base,
                ..p
            }));
        self.bytes.extend_from_slice(&tail.bytes);
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Each cut packet with its kept bytes, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&CutPacket, &[u8])> {
        self.packets
            .iter()
            .map(|p| (p, &self.bytes[p.start..p.start + p.len]))
    }
}

/// The cut packets of the file being written so far, shared with those who answer queries of
/// it (the agent's PQL on its open file): published at each durability flush, so that they are
/// as current as the file's stored packets on disk, and taken whole at rotation for the
/// indexer. `tmp` is the open file they belong with (None between files).
#[derive(Debug, Default)]
pub struct LiveCut {
    pub tmp: Option<std::path::PathBuf>,
    pub cut: CutPackets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_kept_in_order_up_to_the_cap() {
        let mut c = CutPackets::default();
        let long = vec![7u8; 1500];
        assert!(c.push(0, 10, 1500, 1, &long));
        assert!(c.push(3, 11, 60, 1, &long[..60]));
        let got: Vec<_> = c.iter().map(|(p, b)| (p.after, p.ts_ns, b.len())).collect();
        assert_eq!(got, [(0, 10, CUT_HEAD_BYTES), (3, 11, 60)]);
        for _ in 2..MAX_CUT_PER_FILE {
            c.push(3, 12, 60, 1, &[]);
        }
        assert!(!c.push(3, 13, 60, 1, &[]));
        assert_eq!(c.len(), MAX_CUT_PER_FILE);
    }

    #[test]
    fn appended_lists_keep_their_bytes() {
        let (mut a, mut b) = (CutPackets::default(), CutPackets::default());
        a.push(0, 1, 3, 1, &[1, 2, 3]);
        b.push(2, 2, 2, 1, &[4, 5]);
        b.push(5, 3, 1, 1, &[6]);
        a.append(b);
        let got: Vec<_> = a
            .iter()
            .map(|(p, b)| (p.after, p.ts_ns, b.to_vec()))
            .collect();
        assert_eq!(
            got,
            [(0, 1, vec![1, 2, 3]), (2, 2, vec![4, 5]), (5, 3, vec![6])]
        );
    }
}
