//! One netlink datagram from the NETLINK_NETFILTER socket, decoded into what the
//! collector acts on: trace events, new ruleset generations, errors.

use crate::attr::Attrs;
use crate::nfgenmsg::{NFT_MSG_NEWGEN, NFT_MSG_TRACE, NfGenMsg, nft_msg_type};
use crate::nlmsg::{Messages, NLMSG_ERROR, NlmsgError};
use crate::trace::{TraceError, TraceEvent};

/// `enum nft_gen_attributes`: NFTA_GEN_ID.
pub const NFTA_GEN_ID: u16 = 1;

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Netlink(#[from] NlmsgError),
    #[error("trace event: {0}")]
    Trace(#[from] TraceError),
    #[error("NFT_MSG_NEWGEN without its generation")]
    BadNewGen,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Trace(Box<TraceEvent>),
    /// The ruleset changed: its new generation id.
    NewGen(u32),
    /// `NLMSG_ERROR`: the negative errno (0 acknowledges a request).
    Error(i32),
    /// Any other message (table/chain/rule notifications of NFNLGRP_NFTABLES).
    Other(u16),
}

fn new_gen(payload: &[u8]) -> Result<u32, MessageError> {
    let m = NfGenMsg::new(payload).ok_or(MessageError::BadNewGen)?;
    for attr in Attrs::new(m.attributes()) {
        let attr = attr.map_err(|_| MessageError::BadNewGen)?;
        if attr.kind() == NFTA_GEN_ID {
            return attr.be32().map_err(|_| MessageError::BadNewGen);
        }
    }
    Err(MessageError::BadNewGen)
}

/// Every message of a datagram, each decoded or refused on its own.
pub fn decode(datagram: &[u8]) -> impl Iterator<Item = Result<Message, MessageError>> + '_ {
    Messages::new(datagram).map(|msg| {
        let msg = msg?;
        Ok(match msg.msg_type() {
            t if t == nft_msg_type(NFT_MSG_TRACE) => {
                Message::Trace(Box::new(TraceEvent::parse(msg.payload())?))
            }
            t if t == nft_msg_type(NFT_MSG_NEWGEN) => Message::NewGen(new_gen(msg.payload())?),
            NLMSG_ERROR => Message::Error(msg.error_code().unwrap_or(0)),
            other => Message::Other(other),
        })
    })
}
