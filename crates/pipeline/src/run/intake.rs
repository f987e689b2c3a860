//! What every consumer of captured packets does before its handlers: find the packet's decoder
//! (by link type, cached: the packets of one source nearly always share it), count what the
//! source delivered (`CaptureStats`), decode, and make the handlers' event.

use pv_capture::Packet;
use pv_handlers::{HostSpec, PacketEvent};
use pv_summary::CaptureStats;
use pv_wire::LinkType;

#[derive(Debug, Default)]
pub(crate) struct Intake {
    pub(crate) stats: CaptureStats,
    /// The last link type seen and its decoder.
    link: Option<(u32, Option<LinkType>)>,
}

impl Intake {
    /// The decoder of a link type, None if we have none (the type is recorded either way).
    #[inline]
    pub(crate) fn link_type(&mut self, linktype: u32) -> Option<LinkType> {
        match self.link {
            Some((lt, link)) if lt == linktype => link,
            _ => {
                let link = LinkType::from_linktype(linktype);
                if !self.stats.link_types.contains(&linktype) {
                    self.stats.link_types.push(linktype);
                }
                self.link = Some((linktype, link));
                link
            }
        }
    }

    /// Decodes a packet that passed the filters and hands its event (direction by `host_spec`,
    /// deep inspection as `deep` decides, asked only for a decoded packet) to `then`; None,
    /// counted, for a link type we cannot decode. Truncated (snapped) and malformed packets are
    /// counted and still decoded as far as they go. (A closure rather than a returned value:
    /// the decoded view is large, and moving it out cost ~30 instructions a packet.)
    #[inline]
    pub(crate) fn event<R>(
        &mut self,
        p: &Packet<'_>,
        host_spec: &HostSpec,
        deep: impl FnOnce() -> bool,
        then: impl FnOnce(&PacketEvent<'_>) -> R,
    ) -> Option<R> {
        let Some(link) = self.link_type(p.linktype) else {
            self.stats.unsupported_link_type += 1;
            return None;
        };
        if self.stats.first_ts_ns.is_none() {
            self.stats.first_ts_ns = Some(p.ts_ns);
        }
        self.stats.last_ts_ns = Some(p.ts_ns);
        let snapped = (p.data.len() as u64) < u64::from(p.orig_len);
        if snapped {
            self.stats.truncated += 1;
        }
        let decoded = pv_wire::decode(link, p.data);
        if decoded.problem.is_some() && !snapped {
            self.stats.malformed += 1;
        }
        Some(then(&PacketEvent {
            ts_ns: p.ts_ns,
            cap_len: p.data.len() as u32,
            decoded: &decoded,
            dir: host_spec.direction(&decoded),
            deep: deep(),
        }))
    }
}
