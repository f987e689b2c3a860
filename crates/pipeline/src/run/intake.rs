//! What every consumer of captured packets does before its handlers: find the packet's decoder
//! (by link type, cached: the packets of one source nearly always share it), count what the
//! source delivered (`CaptureStats`), decode, and make the handlers' event.
//!
//! A live worker runs several policies over the same packets: it decodes each packet once, at
//! the first policy whose filter keeps it ([`SharedDecode`]), and every policy counts and
//! reads that one view.

use pv_capture::Packet;
use pv_handlers::{HostSpec, PacketEvent};
use pv_summary::CaptureStats;
use pv_wire::{Decoded, LinkType};

/// The decoder of the last link type seen (the packets of one source nearly always share it).
#[derive(Debug, Default)]
pub struct LinkCache {
    last: Option<(u32, Option<LinkType>)>,
}

impl LinkCache {
    #[inline]
    fn get(&mut self, linktype: u32) -> Option<LinkType> {
        match self.last {
            Some((lt, link)) if lt == linktype => link,
            _ => {
                let link = LinkType::from_linktype(linktype);
                self.last = Some((linktype, link));
                link
            }
        }
    }

    /// A packet about to be offered to several policies, decoded at most once.
    #[inline]
    pub fn packet<'a>(&mut self, p: &'a Packet<'a>) -> SharedDecode<'a> {
        SharedDecode {
            p,
            link: self.get(p.linktype),
            decoded: None,
        }
    }
}

/// One packet, decoded when the first policy needs it and kept for the others.
pub struct SharedDecode<'a> {
    pub(crate) p: &'a Packet<'a>,
    link: Option<LinkType>,
    decoded: Option<Decoded<'a>>,
}

impl<'a> SharedDecode<'a> {
    /// The decoded view (None for a link type we cannot decode).
    #[inline]
    fn get(&mut self) -> Option<&Decoded<'a>> {
        let link = self.link?;
        let p = self.p;
        Some(
            self.decoded
                .get_or_insert_with(|| pv_wire::decode(link, p.data)),
        )
    }
}

#[derive(Debug, Default)]
pub(crate) struct Intake {
    pub(crate) stats: CaptureStats,
    links: LinkCache,
    /// The link type last recorded in `stats.link_types` (saves a search per packet).
    recorded: Option<u32>,
}

impl Intake {
    /// Records the packet's link type, capture times and snap length; false (counted) when we
    /// cannot decode its link type.
    #[inline]
    fn account(&mut self, p: &Packet<'_>, link: Option<LinkType>) -> bool {
        if self.recorded != Some(p.linktype) {
            self.recorded = Some(p.linktype);
            if !self.stats.link_types.contains(&p.linktype) {
                self.stats.link_types.push(p.linktype);
            }
        }
        if link.is_none() {
            self.stats.unsupported_link_type += 1;
            return false;
        }
        if self.stats.first_ts_ns.is_none() {
            self.stats.first_ts_ns = Some(p.ts_ns);
        }
        self.stats.last_ts_ns = Some(p.ts_ns);
        true
    }

    /// Counts a decoded packet's damage and hands its event to `then`.
    #[inline]
    fn dispatch<R>(
        &mut self,
        p: &Packet<'_>,
        decoded: &Decoded<'_>,
        host_spec: &HostSpec,
        then: impl FnOnce(&PacketEvent<'_>) -> R,
    ) -> R {
        let snapped = (p.data.len() as u64) < u64::from(p.orig_len);
        if snapped {
            self.stats.truncated += 1;
        }
        if decoded.problem.is_some() && !snapped {
            self.stats.malformed += 1;
        }
        then(&PacketEvent {
            ts_ns: p.ts_ns,
            cap_len: p.data.len() as u32,
            decoded,
            dir: host_spec.direction(decoded),
            deep: true,
        })
    }

    /// Decodes a packet that passed the filters and hands its event (direction by
    /// `host_spec`) to `then`; None, counted, for a link type we cannot decode. Truncated
    /// (snapped) and malformed packets are counted and still decoded as far as they go. (A
    /// closure rather than a returned value: the decoded view is large, and moving it out cost
    /// ~30 instructions a packet.)
    #[inline]
    pub(crate) fn event<R>(
        &mut self,
        p: &Packet<'_>,
        host_spec: &HostSpec,
        then: impl FnOnce(&PacketEvent<'_>) -> R,
    ) -> Option<R> {
        let link = self.links.get(p.linktype);
        if !self.account(p, link) {
            return None;
        }
        let decoded = pv_wire::decode(link?, p.data);
        Some(self.dispatch(p, &decoded, host_spec, then))
    }

    /// [`Intake::event`] for a packet decoded once for every policy of a worker.
    #[inline]
    pub(crate) fn shared_event<R>(
        &mut self,
        shared: &mut SharedDecode<'_>,
        host_spec: &HostSpec,
        then: impl FnOnce(&PacketEvent<'_>) -> R,
    ) -> Option<R> {
        let p = shared.p;
        if !self.account(p, shared.link) {
            return None;
        }
        let decoded = shared.get()?;
        Some(self.dispatch(p, decoded, host_spec, then))
    }
}
