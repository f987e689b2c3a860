//! Verdicts: the nested `NFTA_TRACE_VERDICT` (`NFTA_VERDICT_CODE`, `NFTA_VERDICT_CHAIN`)
//! and the chain policy (`NFTA_TRACE_POLICY`), named as `nft monitor trace` names them.

use crate::attr::{Attr, AttrError};
use serde::Serialize;

/// `enum nft_verdict_attributes`.
pub const NFTA_VERDICT_CODE: u16 = 1;
pub const NFTA_VERDICT_CHAIN: u16 = 2;
pub const NFTA_VERDICT_CHAIN_ID: u16 = 3;

/// Netfilter verdicts (linux/netfilter.h) and nftables' own (`enum nft_verdicts`), which
/// share one signed number space.
pub const NF_DROP: i32 = 0;
pub const NF_ACCEPT: i32 = 1;
pub const NF_STOLEN: i32 = 2;
pub const NF_QUEUE: i32 = 3;
pub const NF_REPEAT: i32 = 4;
pub const NF_STOP: i32 = 5;
pub const NFT_CONTINUE: i32 = -1;
pub const NFT_BREAK: i32 = -2;
pub const NFT_JUMP: i32 = -3;
pub const NFT_GOTO: i32 = -4;
pub const NFT_RETURN: i32 = -5;
/// `NF_VERDICT_MASK`: a queue verdict carries its queue number above the low byte, a drop
/// its errno.
pub const NF_VERDICT_MASK: i32 = 0xff;

/// What a rule (or a chain's end) told the packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Drop,
    Stolen,
    Queue,
    Repeat,
    Stop,
    Continue,
    Break,
    Jump,
    Goto,
    Return,
    /// A code this build does not know.
    Unknown(i32),
}

impl Verdict {
    pub fn from_code(code: i32) -> Verdict {
        match code {
            NFT_CONTINUE => Verdict::Continue,
            NFT_BREAK => Verdict::Break,
            NFT_JUMP => Verdict::Jump,
            NFT_GOTO => Verdict::Goto,
            NFT_RETURN => Verdict::Return,
            c if c >= 0 => match c & NF_VERDICT_MASK {
                NF_DROP => Verdict::Drop,
                NF_ACCEPT => Verdict::Accept,
                NF_STOLEN => Verdict::Stolen,
                NF_QUEUE => Verdict::Queue,
                NF_REPEAT => Verdict::Repeat,
                NF_STOP => Verdict::Stop,
                _ => Verdict::Unknown(c),
            },
            c => Verdict::Unknown(c),
        }
    }

    /// nft's word for it (`accept`, `jump`, ...).
    pub fn name(&self) -> String {
        match self {
            Verdict::Accept => "accept".into(),
            Verdict::Drop => "drop".into(),
            Verdict::Stolen => "stolen".into(),
            Verdict::Queue => "queue".into(),
            Verdict::Repeat => "repeat".into(),
            Verdict::Stop => "stop".into(),
            Verdict::Continue => "continue".into(),
            Verdict::Break => "break".into(),
            Verdict::Jump => "jump".into(),
            Verdict::Goto => "goto".into(),
            Verdict::Return => "return".into(),
            Verdict::Unknown(c) => format!("unknown({c})"),
        }
    }

    /// True when the packet's fate in this base chain is settled: the traversal ends here.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Verdict::Accept
                | Verdict::Drop
                | Verdict::Stolen
                | Verdict::Queue
                | Verdict::Repeat
                | Verdict::Stop
        )
    }
}

/// A decoded `NFTA_TRACE_VERDICT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictAttr {
    pub code: i32,
    pub verdict: Verdict,
    /// The jump/goto target.
    pub chain: Option<String>,
}

impl VerdictAttr {
    pub fn parse(attr: &Attr<'_>) -> Result<VerdictAttr, AttrError> {
        let mut code = None;
        let mut chain = None;
        for inner in attr.nested() {
            let inner = inner?;
            match inner.kind() {
                NFTA_VERDICT_CODE => code = Some(inner.be32()? as i32),
                NFTA_VERDICT_CHAIN => chain = Some(inner.string()?.to_owned()),
                _ => {}
            }
        }
        // A verdict without its code is broken: refuse it rather than guess.
        let code = code.ok_or(AttrError::Missing {
            outer: attr.kind(),
            inner: NFTA_VERDICT_CODE,
        })?;
        Ok(VerdictAttr {
            code,
            verdict: Verdict::from_code(code),
            chain,
        })
    }

    /// As nft prints it: `jump NAME`, `accept`...
    pub fn text(&self) -> String {
        match &self.chain {
            Some(target) => format!("{} {target}", self.verdict.name()),
            None => self.verdict.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{Attrs, put};

    fn verdict(code: i32, chain: Option<&str>) -> Result<VerdictAttr, AttrError> {
        let mut inner = Vec::new();
        put(&mut inner, NFTA_VERDICT_CODE, &code.to_be_bytes());
        if let Some(c) = chain {
            put(&mut inner, NFTA_VERDICT_CHAIN, format!("{c}\0").as_bytes());
        }
        let mut outer = Vec::new();
        put(&mut outer, 0x8000 | 5, &inner);
        VerdictAttr::parse(&Attrs::new(&outer).next().unwrap().unwrap())
    }

    #[test]
    fn codes() {
        assert_eq!(
            verdict(NFT_JUMP, Some("icmp_in")).unwrap().text(),
            "jump icmp_in"
        );
        assert_eq!(verdict(NF_ACCEPT, None).unwrap().verdict, Verdict::Accept);
        // Queue number 3 in the high bits: still a queue verdict.
        assert_eq!(
            verdict(3 << 16 | NF_QUEUE, None).unwrap().verdict,
            Verdict::Queue
        );
        // A drop carrying an errno (EACCES << 16).
        assert_eq!(verdict(13 << 16, None).unwrap().verdict, Verdict::Drop);
        assert_eq!(verdict(-9, None).unwrap().verdict, Verdict::Unknown(-9));
        assert!(Verdict::Drop.is_terminal() && !Verdict::Return.is_terminal());
    }

    #[test]
    fn missing_code_is_an_error() {
        let mut outer = Vec::new();
        put(&mut outer, 0x8000 | 5, &[]);
        let a = Attrs::new(&outer).next().unwrap().unwrap();
        assert_eq!(
            VerdictAttr::parse(&a),
            Err(AttrError::Missing { outer: 5, inner: 1 })
        );
    }
}
