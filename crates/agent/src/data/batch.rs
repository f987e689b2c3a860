//! Packets copied out of the capture ring, handed to a worker in one message.

use pv_capture::Packet;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Packets per batch: large enough that the channel costs little per packet, small enough that
/// a worker starts while the capture thread fills the next one.
pub const BATCH_PACKETS: usize = 256;

#[derive(Debug, Default)]
pub struct Batch {
    linktype: u32,
    ts_ns: Vec<u64>,
    orig_len: Vec<u32>,
    /// End offset of each packet's bytes in `data`.
    ends: Vec<usize>,
    data: Vec<u8>,
}

impl Batch {
    pub fn with_capacity(packets: usize) -> Batch {
        Batch {
            linktype: 0,
            ts_ns: Vec::with_capacity(packets),
            orig_len: Vec::with_capacity(packets),
            ends: Vec::with_capacity(packets),
            data: Vec::with_capacity(packets * 128),
        }
    }

    /// Empties the batch, keeping its memory for the next packets.
    pub fn clear(&mut self) {
        self.ts_ns.clear();
        self.orig_len.clear();
        self.ends.clear();
        self.data.clear();
    }

    /// Copies a packet in. A batch holds one link type (one capture handle has one).
    pub fn push(&mut self, p: &Packet<'_>) {
        self.linktype = p.linktype;
        self.ts_ns.push(p.ts_ns);
        self.orig_len.push(p.orig_len);
        self.data.extend_from_slice(p.data);
        self.ends.push(self.data.len());
    }

    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Captured bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Packet<'_>> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.ends
            .iter()
            .zip(starts)
            .zip(self.ts_ns.iter().zip(&self.orig_len))
            .map(|((&end, start), (&ts_ns, &orig_len))| Packet {
                ts_ns,
                orig_len,
                data: self.data.get(start..end).unwrap_or_default(),
                linktype: self.linktype,
                interface: 0,
            })
    }
}

/// Batches on their way back from the workers, emptied: the capture thread takes one from
/// here before it allocates a new one. A batch is only ever allocated when none is waiting, so
/// the pool never holds more than were in flight at once (bounded by the workers' queues).
pub struct BatchPool {
    returned: Receiver<Batch>,
    returns: Sender<Batch>,
}

impl Default for BatchPool {
    fn default() -> Self {
        let (returns, returned) = channel();
        BatchPool { returned, returns }
    }
}

impl BatchPool {
    /// An empty batch: a returned one, or a new one.
    pub fn take(&self) -> Batch {
        self.returned
            .try_recv()
            .unwrap_or_else(|_| Batch::with_capacity(BATCH_PACKETS))
    }

    /// Takes back a batch that was not handed over (a full queue dropped it).
    pub fn give_back(&self, mut batch: Batch) {
        batch.clear();
        let _ = self.returns.send(batch);
    }

    /// Where a worker hands its processed batches back.
    pub fn returns(&self) -> Sender<Batch> {
        self.returns.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_come_back_as_they_went_in() {
        let mut b = Batch::with_capacity(2);
        let bytes: [&[u8]; 3] = [b"abc", b"", b"defgh"];
        for (i, data) in bytes.iter().enumerate() {
            b.push(&Packet {
                ts_ns: i as u64 * 10,
                orig_len: 100 + i as u32,
                data,
                linktype: 1,
                interface: 0,
            });
        }
        let back: Vec<(u64, u32, Vec<u8>)> = b
            .iter()
            .map(|p| (p.ts_ns, p.orig_len, p.data.to_vec()))
            .collect();
        assert_eq!(
            back,
            vec![
                (0, 100, b"abc".to_vec()),
                (10, 101, vec![]),
                (20, 102, b"defgh".to_vec())
            ]
        );
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn a_returned_batch_comes_back_empty_with_its_memory() {
        let pool = BatchPool::default();
        let mut b = pool.take();
        b.push(&Packet {
            ts_ns: 1,
            orig_len: 3,
            data: b"abc",
            linktype: 1,
            interface: 0,
        });
        let data = b.data.as_ptr();
        b.clear();
        pool.returns().send(b).unwrap();
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.data.as_ptr(), data);
        // Nothing waiting: a new batch.
        assert!(pool.take().is_empty());
    }
}
