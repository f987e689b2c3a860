//! `struct nfgenmsg` (linux/netfilter/nfnetlink.h): the 4 bytes after the netlink header
//! of every nfnetlink message, and the nftables message types.

/// `sizeof(struct nfgenmsg)`.
pub const HEADER_LEN: usize = 4;

/// `NFNL_SUBSYS_NFTABLES`: the high byte of an nftables message type.
pub const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// `enum nf_tables_msg_types` values we read or send.
pub const NFT_MSG_NEWGEN: u8 = 15;
pub const NFT_MSG_GETGEN: u8 = 16;
pub const NFT_MSG_TRACE: u8 = 17;

/// Multicast groups (`enum nfnetlink_groups`).
pub const NFNLGRP_NFTABLES: u32 = 7;
pub const NFNLGRP_NFTRACE: u32 = 9;

/// `NFNETLINK_V0`.
pub const NFNETLINK_V0: u8 = 0;

/// The netlink message type of an nftables message: subsystem in the high byte.
#[inline]
pub const fn nft_msg_type(msg: u8) -> u16 {
    ((NFNL_SUBSYS_NFTABLES as u16) << 8) | msg as u16
}

/// Checked view over the nfgenmsg header and the attributes after it.
#[derive(Clone, Copy, Debug)]
pub struct NfGenMsg<'a> {
    header: &'a [u8; HEADER_LEN],
    attributes: &'a [u8],
}

impl<'a> NfGenMsg<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are there.
    pub fn new(payload: &'a [u8]) -> Option<Self> {
        let (header, attributes) = payload.split_first_chunk::<HEADER_LEN>()?;
        Some(NfGenMsg { header, attributes })
    }

    /// For a trace: the family of the base chain's table (`NFPROTO_*`).
    #[inline]
    pub fn family(&self) -> u8 {
        self.header[0]
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.header[1]
    }

    /// Big-endian; the low 16 bits of the generation in NFT_MSG_NEWGEN.
    #[inline]
    pub fn res_id(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }

    #[inline]
    pub fn attributes(&self) -> &'a [u8] {
        self.attributes
    }
}

/// The nfgenmsg of a request: family, version 0, resource id 0.
pub fn request(family: u8) -> [u8; HEADER_LEN] {
    [family, NFNETLINK_V0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_match_the_issue() {
        // The issue quotes the trace type as 0x0A11.
        assert_eq!(nft_msg_type(NFT_MSG_TRACE), 0x0a11);
        assert_eq!(nft_msg_type(NFT_MSG_NEWGEN), 0x0a0f);
    }

    #[test]
    fn view() {
        // Family inet (1), version 0, res_id 0x0102, then one attribute's first bytes.
        let bytes = [1, 0, 1, 2, 8, 0, 1, 0];
        let m = NfGenMsg::new(&bytes).unwrap();
        assert_eq!((m.family(), m.version(), m.res_id()), (1, 0, 0x0102));
        assert_eq!(m.attributes(), &[8, 0, 1, 0]);
        for cut in 0..HEADER_LEN {
            assert!(NfGenMsg::new(&bytes[..cut]).is_none());
        }
    }
}
