//! A filter tree as SQL (for the store) and as a test of one row (for follow, so that a
//! followed record and a searched one match the same filters). The SQL is built from fixed
//! column names and operators only; every value a user gave is a bound parameter.
//!
//! Two-valued logic in both: a comparison on a field the record does not have (no ports
//! for ICMP) is false, and `!=` is `not ==`, so `sport != 80` matches a ping. In SQL a
//! comparison is `(col IS NOT NULL AND col = ?)`, never NULL, so that NOT flips it as in
//! memory; unlike `coalesce(col = ?, 0)` it leaves the column bare for its index.

use super::filter::{Expr, Field, Op, Value};
use crate::record::TraceRecord;
use rusqlite::types::Value as SqlValue;
use std::net::IpAddr;

/// The flat fields of one record, as stored and as filters read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub time_ns: u64,
    pub agent_id: String,
    pub netns: String,
    pub trace_id: u32,
    pub family: String,
    pub table: String,
    pub chain: String,
    /// The final verdict (`drop`, `policy drop`...).
    pub verdict: String,
    /// The deciding rule's handle.
    pub handle: Option<u64>,
    /// Jump and goto targets of the path.
    pub jt: Vec<String>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub hw_src: Option<String>,
    pub hw_dst: Option<String>,
    pub ip_src: Option<IpAddr>,
    pub ip_dst: Option<IpAddr>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub len: Option<u32>,
    pub proto: Option<u8>,
}

impl Row {
    pub fn new(r: &TraceRecord, agent_id: &str) -> Row {
        let mut jt: Vec<String> = r.path.iter().filter_map(|s| s.target.clone()).collect();
        jt.dedup();
        Row {
            time_ns: r.time_ns,
            agent_id: agent_id.to_owned(),
            netns: r.netns.clone(),
            trace_id: r.trace_id,
            family: r.family.clone(),
            table: r.table.clone(),
            chain: r.chain.clone(),
            verdict: r.verdict.clone(),
            handle: r.rule.as_ref().map(|d| d.handle),
            jt,
            iif: r.iif.clone(),
            oif: r.oif.clone(),
            hw_src: r.packet.hw_src.clone(),
            hw_dst: r.packet.hw_dst.clone(),
            ip_src: r.packet.ip_src,
            ip_dst: r.packet.ip_dst,
            sport: r.packet.sport,
            dport: r.packet.dport,
            len: r.packet.len,
            proto: r.packet.proto,
        }
    }

    /// The verdict's action: `drop` for `policy drop`, so that `verdict == drop` finds what
    /// was dropped whoever decided.
    pub fn action(verdict: &str) -> &str {
        verdict.rsplit(' ').next().unwrap_or(verdict)
    }

    /// `,a,b,`: a target is matched as `,NAME,` (names have no comma).
    pub fn jt_column(&self) -> String {
        if self.jt.is_empty() {
            String::new()
        } else {
            format!(",{},", self.jt.join(","))
        }
    }
}

/// An address as 16 bytes (IPv4 mapped into IPv6), so that CIDRs are byte ranges.
pub fn address_key(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The first and last 16-byte keys of a network.
pub fn net_range(addr: IpAddr, prefix: u8) -> ([u8; 16], [u8; 16]) {
    let bits = if addr.is_ipv4() {
        u32::from(prefix) + 96
    } else {
        u32::from(prefix)
    };
    let key = u128::from_be_bytes(address_key(addr));
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    ((key & mask).to_be_bytes(), (key | !mask).to_be_bytes())
}

pub fn column(field: Field) -> &'static str {
    match field {
        Field::Trid => "trace_id",
        Field::Table => "tbl",
        Field::Chain => "chain",
        Field::Jt => "jt",
        Field::Handle => "handle",
        Field::Family => "family",
        Field::Iif => "iif",
        Field::Oif => "oif",
        Field::HwSrc => "hw_src",
        Field::HwDst => "hw_dst",
        Field::IpSrc => "ip_src",
        Field::IpDst => "ip_dst",
        Field::Sport => "sport",
        Field::Dport => "dport",
        Field::Len => "len",
        Field::Proto => "proto",
        Field::Verdict => "verdict",
        Field::AgentId => "agent_id",
        Field::Netns => "netns",
    }
}

pub fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

/// The SQL of `expr` (a boolean expression over the `traces` columns) and its parameters.
pub fn to_sql(expr: &Expr, params: &mut Vec<SqlValue>) -> String {
    match expr {
        Expr::True => "1".into(),
        Expr::And(a, b) => format!("({} AND {})", to_sql(a, params), to_sql(b, params)),
        Expr::Or(a, b) => format!("({} OR {})", to_sql(a, params), to_sql(b, params)),
        Expr::Not(e) => format!("(NOT {})", to_sql(e, params)),
        Expr::Cmp(field, Op::Ne, value) => {
            format!(
                "(NOT {})",
                to_sql(&Expr::Cmp(*field, Op::Eq, value.clone()), params)
            )
        }
        Expr::Cmp(field, op, value) => {
            let col = column(*field);
            match (field, value) {
                (_, Value::Net(addr, prefix)) => {
                    let (lo, hi) = net_range(*addr, *prefix);
                    params.push(SqlValue::Blob(lo.to_vec()));
                    params.push(SqlValue::Blob(hi.to_vec()));
                    format!("({col} IS NOT NULL AND {col} BETWEEN ? AND ?)")
                }
                (Field::Jt, Value::Text(t)) => {
                    params.push(SqlValue::Text(format!(",{t},")));
                    "(instr(jt, ?) > 0)".into()
                }
                (Field::Verdict, Value::Text(t)) if !t.contains(' ') => {
                    params.push(SqlValue::Text(t.clone()));
                    "(action = ?)".into()
                }
                (_, Value::Text(t)) => {
                    params.push(SqlValue::Text(t.clone()));
                    format!("({col} IS NOT NULL AND {col} {} ?)", sql_op(*op))
                }
                (_, Value::Number(n)) => {
                    params.push(SqlValue::Integer(i64::try_from(*n).unwrap_or(i64::MAX)));
                    format!("({col} IS NOT NULL AND {col} {} ?)", sql_op(*op))
                }
            }
        }
    }
}

/// Whether every record `expr` matches meets a term an index of the store serves: an
/// address, a port or a trace id compared (not `!=`), or a verdict's action. Such a filter is
/// searched epoch by epoch (`search::Path::ByEpoch`).
pub fn indexed(expr: &Expr) -> bool {
    match expr {
        Expr::True | Expr::Not(_) => false,
        Expr::And(a, b) => indexed(a) || indexed(b),
        Expr::Or(a, b) => indexed(a) && indexed(b),
        Expr::Cmp(_, Op::Ne, _) => false,
        Expr::Cmp(Field::IpSrc | Field::IpDst | Field::Sport | Field::Dport | Field::Trid, ..) => {
            true
        }
        Expr::Cmp(Field::Verdict, Op::Eq, Value::Text(t)) => !t.contains(' '),
        Expr::Cmp(..) => false,
    }
}

fn compare<T: Ord>(a: Option<T>, op: Op, b: T) -> bool {
    let Some(a) = a else { return false };
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

/// Whether `row` matches `expr`, exactly as the SQL of [`to_sql`] decides.
pub fn matches(expr: &Expr, row: &Row) -> bool {
    match expr {
        Expr::True => true,
        Expr::And(a, b) => matches(a, row) && matches(b, row),
        Expr::Or(a, b) => matches(a, row) || matches(b, row),
        Expr::Not(e) => !matches(e, row),
        Expr::Cmp(field, Op::Ne, value) => !matches(&Expr::Cmp(*field, Op::Eq, value.clone()), row),
        Expr::Cmp(field, op, Value::Number(n)) => {
            let v = match field {
                Field::Trid => Some(u64::from(row.trace_id)),
                Field::Handle => row.handle,
                Field::Sport => row.sport.map(u64::from),
                Field::Dport => row.dport.map(u64::from),
                Field::Len => row.len.map(u64::from),
                Field::Proto => row.proto.map(u64::from),
                _ => None,
            };
            compare(v, *op, *n)
        }
        Expr::Cmp(field, _, Value::Net(addr, prefix)) => {
            let v = match field {
                Field::IpSrc => row.ip_src,
                Field::IpDst => row.ip_dst,
                _ => None,
            };
            let (lo, hi) = net_range(*addr, *prefix);
            v.map(address_key).is_some_and(|k| lo <= k && k <= hi)
        }
        Expr::Cmp(field, op, Value::Text(t)) => {
            let v: Option<&str> = match field {
                Field::Jt => return row.jt.iter().any(|j| j == t),
                Field::Verdict if !t.contains(' ') => Some(Row::action(&row.verdict)),
                Field::Verdict => Some(&row.verdict),
                Field::Table => Some(&row.table),
                Field::Chain => Some(&row.chain),
                Field::Family => Some(&row.family),
                Field::AgentId => Some(&row.agent_id),
                Field::Netns => Some(&row.netns),
                Field::Iif => row.iif.as_deref(),
                Field::Oif => row.oif.as_deref(),
                Field::HwSrc => row.hw_src.as_deref(),
                Field::HwDst => row.hw_dst.as_deref(),
                _ => None,
            };
            compare(v, *op, t.as_str())
        }
    }
}
