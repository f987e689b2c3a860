//! One trace event: an `NFT_MSG_TRACE` message's `NFTA_TRACE_*` attributes
//! (`enum nft_trace_attributes`, linux/netfilter/nf_tables.h).
//!
//! The kernel (net/netfilter/nf_tables_trace.c) sends one per rule a traced packet meets,
//! one when a regular chain ends (`RETURN`), one when the base chain's policy decides
//! (`POLICY`). Only the first event of a base-chain traversal carries the packet:
//! interfaces and the link, network and transport header bytes.

use crate::attr::{Attr, AttrError, Attrs};
use crate::nfgenmsg::NfGenMsg;
use crate::verdict::{Verdict, VerdictAttr};

pub const NFTA_TRACE_TABLE: u16 = 1;
pub const NFTA_TRACE_CHAIN: u16 = 2;
pub const NFTA_TRACE_RULE_HANDLE: u16 = 3;
pub const NFTA_TRACE_TYPE: u16 = 4;
pub const NFTA_TRACE_VERDICT: u16 = 5;
pub const NFTA_TRACE_ID: u16 = 6;
pub const NFTA_TRACE_LL_HEADER: u16 = 7;
pub const NFTA_TRACE_NETWORK_HEADER: u16 = 8;
pub const NFTA_TRACE_TRANSPORT_HEADER: u16 = 9;
pub const NFTA_TRACE_IIF: u16 = 10;
pub const NFTA_TRACE_IIFTYPE: u16 = 11;
pub const NFTA_TRACE_OIF: u16 = 12;
pub const NFTA_TRACE_OIFTYPE: u16 = 13;
pub const NFTA_TRACE_MARK: u16 = 14;
pub const NFTA_TRACE_NFPROTO: u16 = 15;
pub const NFTA_TRACE_POLICY: u16 = 16;
pub const NFTA_TRACE_PAD: u16 = 17;
/// Conntrack attributes (Linux 6.16 on): sent when the packet has a conntrack entry.
pub const NFTA_TRACE_CT_ID: u16 = 18;
pub const NFTA_TRACE_CT_DIRECTION: u16 = 19;
pub const NFTA_TRACE_CT_STATUS: u16 = 20;
pub const NFTA_TRACE_CT_STATE: u16 = 21;

/// `enum nft_trace_types`.
pub const NFT_TRACETYPE_POLICY: u32 = 1;
pub const NFT_TRACETYPE_RETURN: u32 = 2;
pub const NFT_TRACETYPE_RULE: u32 = 3;

/// The kind of event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceType {
    /// The base chain's policy decided.
    Policy,
    /// A regular chain ended without a verdict: back to the caller.
    Return,
    /// A rule matched (or set the trace).
    Rule,
    Other(u32),
}

impl TraceType {
    fn from_u32(v: u32) -> TraceType {
        match v {
            NFT_TRACETYPE_POLICY => TraceType::Policy,
            NFT_TRACETYPE_RETURN => TraceType::Return,
            NFT_TRACETYPE_RULE => TraceType::Rule,
            other => TraceType::Other(other),
        }
    }
}

/// Why a trace message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("nfgenmsg header cut short")]
    Truncated,
    #[error(transparent)]
    Attr(#[from] AttrError),
    #[error("trace event without {0}")]
    Missing(&'static str),
}

/// One decoded trace event (owned: it outlives the receive buffer in the correlator).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceEvent {
    /// The family of the base chain's table (nfgenmsg): `NFPROTO_INET` for an inet table.
    pub family: u8,
    pub id: u32,
    pub kind: Option<TraceType>,
    pub table: String,
    /// The chain of the rule (a jump target), or the base chain for a policy event.
    pub chain: String,
    pub rule_handle: Option<u64>,
    pub verdict: Option<VerdictAttr>,
    /// NF_ACCEPT / NF_DROP for a policy event.
    pub policy: Option<Verdict>,
    /// The packet's protocol (`NFPROTO_IPV4`/`IPV6` in an inet table).
    pub nfproto: Option<u8>,
    pub iif: Option<u32>,
    pub iiftype: Option<u16>,
    pub oif: Option<u32>,
    pub oiftype: Option<u16>,
    pub mark: Option<u32>,
    pub ll_header: Option<Vec<u8>>,
    pub network_header: Option<Vec<u8>>,
    pub transport_header: Option<Vec<u8>>,
    pub ct_id: Option<u32>,
    pub ct_direction: Option<u8>,
    pub ct_status: Option<u32>,
    pub ct_state: Option<u32>,
}

impl TraceEvent {
    /// Decodes an NFT_MSG_TRACE payload (nfgenmsg and attributes). Attributes this build
    /// does not know are passed over; a known one of the wrong size refuses the event.
    pub fn parse(payload: &[u8]) -> Result<TraceEvent, TraceError> {
        let gen_msg = NfGenMsg::new(payload).ok_or(TraceError::Truncated)?;
        let mut ev = TraceEvent {
            family: gen_msg.family(),
            ..TraceEvent::default()
        };
        let mut id = None;
        let mut table = None;
        let mut chain = None;
        for attr in Attrs::new(gen_msg.attributes()) {
            let attr = attr?;
            ev.apply(&attr, &mut id, &mut table, &mut chain)?;
        }
        ev.id = id.ok_or(TraceError::Missing("NFTA_TRACE_ID"))?;
        ev.table = table.ok_or(TraceError::Missing("NFTA_TRACE_TABLE"))?;
        ev.chain = chain.ok_or(TraceError::Missing("NFTA_TRACE_CHAIN"))?;
        Ok(ev)
    }

    fn apply(
        &mut self,
        attr: &Attr<'_>,
        id: &mut Option<u32>,
        table: &mut Option<String>,
        chain: &mut Option<String>,
    ) -> Result<(), TraceError> {
        match attr.kind() {
            NFTA_TRACE_TABLE => *table = Some(attr.string()?.to_owned()),
            NFTA_TRACE_CHAIN => *chain = Some(attr.string()?.to_owned()),
            NFTA_TRACE_RULE_HANDLE => self.rule_handle = Some(attr.be64()?),
            NFTA_TRACE_TYPE => self.kind = Some(TraceType::from_u32(attr.be32()?)),
            NFTA_TRACE_VERDICT => self.verdict = Some(VerdictAttr::parse(attr)?),
            // The kernel writes the id as a raw 32-bit value; nft reads it big-endian and
            // prints it in hex: reading it the same way gives the same id as nft.
            NFTA_TRACE_ID => *id = Some(attr.be32()?),
            NFTA_TRACE_LL_HEADER => self.ll_header = Some(attr.value().to_vec()),
            NFTA_TRACE_NETWORK_HEADER => self.network_header = Some(attr.value().to_vec()),
            NFTA_TRACE_TRANSPORT_HEADER => self.transport_header = Some(attr.value().to_vec()),
            NFTA_TRACE_IIF => self.iif = Some(attr.be32()?),
            NFTA_TRACE_IIFTYPE => self.iiftype = Some(attr.be16()?),
            NFTA_TRACE_OIF => self.oif = Some(attr.be32()?),
            NFTA_TRACE_OIFTYPE => self.oiftype = Some(attr.be16()?),
            NFTA_TRACE_MARK => self.mark = Some(attr.be32()?),
            NFTA_TRACE_NFPROTO => {
                // NFPROTO values fit a byte; a larger one is not a protocol we decode.
                self.nfproto = u8::try_from(attr.be32()?).ok();
            }
            NFTA_TRACE_POLICY => self.policy = Some(Verdict::from_code(attr.be32()? as i32)),
            NFTA_TRACE_CT_ID => self.ct_id = Some(attr.be32()?),
            NFTA_TRACE_CT_DIRECTION => self.ct_direction = Some(attr.u8()?),
            NFTA_TRACE_CT_STATUS => self.ct_status = Some(attr.be32()?),
            NFTA_TRACE_CT_STATE => self.ct_state = Some(attr.be32()?),
            _ => {}
        }
        Ok(())
    }

    /// True when this event carries the packet, which the kernel sends once per base-chain
    /// traversal, with its first event.
    pub fn has_packet(&self) -> bool {
        self.network_header.is_some()
            || self.iif.is_some()
            || self.oif.is_some()
            || self.ll_header.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::put;

    // A hand-made policy event: nfgenmsg (family ip), then the attributes in the kernel's
    // order. The real bytes are checked in tests/golden.rs.
    fn policy_event(with_id: bool, id_len: usize) -> Vec<u8> {
        let mut b = vec![2, 0, 0, 0];
        put(&mut b, NFTA_TRACE_NFPROTO, &2u32.to_be_bytes());
        put(&mut b, NFTA_TRACE_TYPE, &NFT_TRACETYPE_POLICY.to_be_bytes());
        if with_id {
            put(
                &mut b,
                NFTA_TRACE_ID,
                &0xdead_beef_u64.to_be_bytes()[8 - id_len..],
            );
        }
        put(&mut b, NFTA_TRACE_CHAIN, b"input\0");
        put(&mut b, NFTA_TRACE_TABLE, b"filter\0");
        put(&mut b, NFTA_TRACE_POLICY, &0u32.to_be_bytes());
        put(&mut b, NFTA_TRACE_MARK, &42u32.to_be_bytes());
        put(&mut b, 99, b"an attribute of a later kernel");
        b
    }

    #[test]
    fn policy_event_decodes() {
        let ev = TraceEvent::parse(&policy_event(true, 4)).unwrap();
        assert_eq!((ev.family, ev.id), (2, 0xdead_beef));
        assert_eq!(ev.kind, Some(TraceType::Policy));
        assert_eq!((ev.table.as_str(), ev.chain.as_str()), ("filter", "input"));
        assert_eq!(
            (ev.policy.clone(), ev.mark, ev.nfproto),
            (Some(Verdict::Drop), Some(42), Some(2))
        );
        assert!(!ev.has_packet());
    }

    #[test]
    fn refusals_are_typed() {
        assert_eq!(
            TraceEvent::parse(&policy_event(false, 4)),
            Err(TraceError::Missing("NFTA_TRACE_ID"))
        );
        assert_eq!(
            TraceEvent::parse(&policy_event(true, 8)),
            Err(TraceError::Attr(AttrError::BadSize {
                kind: NFTA_TRACE_ID,
                len: 8,
                expected: 4
            }))
        );
        assert_eq!(TraceEvent::parse(&[2, 0]), Err(TraceError::Truncated));
    }
}
