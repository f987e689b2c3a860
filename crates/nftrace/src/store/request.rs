//! The query parameters of `GET /api/v1/traces` and `/api/v1/traces/follow` read into a
//! filter tree and a [`Query`]: the same reading on an agent and on the hub, so that
//! `pktvisor traces` asks either alike. Per-field lists (`dport=53,80`: OR within a field,
//! AND between fields), `q` (the filter language), `from`/`to` (RFC 3339, Unix seconds or a
//! span before now), `limit`, `cursor`.

use super::filter::{self, Expr, Field, FilterError};
use super::search::{MAX_LIMIT, Query};

/// A page without `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// A parameter that does not parse (an HTTP 400): which, why, and for `q` where (0-based)
/// and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub message: String,
    pub parameter: String,
    pub position: Option<usize>,
    pub expected: Option<String>,
}

fn bad(parameter: &str, message: String) -> RequestError {
    RequestError {
        message,
        parameter: parameter.to_owned(),
        position: None,
        expected: None,
    }
}

fn filter_error(parameter: &str, e: FilterError) -> RequestError {
    RequestError {
        message: format!("{parameter}: {e}"),
        parameter: parameter.to_owned(),
        position: Some(e.position),
        expected: Some(e.expected),
    }
}

/// The filters of a request: per-field lists and `q`. `extra` names the other parameters
/// the endpoint takes; any other is refused.
pub fn filters(params: &[(String, String)], extra: &[&str]) -> Result<Expr, RequestError> {
    let mut expr = Expr::True;
    for (name, value) in params {
        if let Some(field) = Field::from_name(name) {
            expr = expr
                .and(filter::from_lists([(field, value.as_str())]).map_err(|e| {
                    bad(name, format!("{name}: {}, found {}", e.expected, e.found))
                })?);
        } else if name == "q" {
            expr = expr.and(filter::parse(value).map_err(|e| filter_error("q", e))?);
        } else if !extra.contains(&name.as_str()) {
            return Err(bad(name, format!("unknown parameter '{name}'")));
        }
    }
    Ok(expr)
}

/// The last value of parameter `name` as a time (ns).
fn time(params: &[(String, String)], name: &str) -> Result<Option<u64>, RequestError> {
    params
        .iter()
        .rfind(|(n, _)| n == name)
        .map(|(_, v)| {
            pv_wire::time_text::parse_time(v).map_err(|e| bad(name, format!("{name}: {e}")))
        })
        .transpose()
}

/// A search request (`GET /api/v1/traces`).
pub fn search_query(params: &[(String, String)]) -> Result<Query, RequestError> {
    let filter = filters(params, &["from", "to", "limit", "cursor"])?;
    let limit = match params.iter().rfind(|(n, _)| n == "limit") {
        None => DEFAULT_LIMIT,
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", format!("limit: expected 1 to {MAX_LIMIT}")))?,
    };
    Ok(Query {
        filter,
        from_ns: time(params, "from")?,
        to_ns: time(params, "to")?,
        limit,
        cursor: params
            .iter()
            .rfind(|(n, _)| n == "cursor")
            .map(|(_, v)| v.clone()),
    })
}

/// The cursor of a page: the (time, id) of its last record, in hex, so that records written
/// meanwhile (newer) never shift a page.
pub fn cursor_text(time_ns: i64, id: i64) -> String {
    format!("{time_ns:x}-{id:x}")
}

/// [`cursor_text`] read back; None if it is not one.
pub fn parse_cursor(text: &str) -> Option<(i64, i64)> {
    let (t, id) = text.split_once('-')?;
    Some((
        i64::from_str_radix(t, 16).ok()?,
        i64::from_str_radix(id, 16).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn request_filters() {
        let e = filters(&p(&[("dport", "53,80"), ("q", "verdict == drop")]), &[]).unwrap();
        assert_eq!(
            e,
            filter::from_lists([(Field::Dport, "53,80")])
                .unwrap()
                .and(filter::parse("verdict == drop").unwrap())
        );
        let e = filters(&p(&[("q", "dport >")]), &[]).unwrap_err();
        assert_eq!((e.position, e.parameter.as_str()), (Some(7), "q"));
        assert!(filters(&p(&[("from", "1")]), &[]).is_err());
        assert!(filters(&p(&[("from", "1")]), &["from"]).is_ok());
        assert!(filters(&p(&[("ip_dst", "198.51.100.0/24")]), &[]).is_ok());
        assert!(filters(&p(&[("ip-dst", "nope")]), &[]).is_err());
    }

    #[test]
    fn searches_read_times_limits_and_cursors() {
        // `date -u -d 2026-12-07T01:02:03Z +%s` = 1796605323.
        let q = search_query(&p(&[
            ("from", "2026-12-07T01:02:03Z"),
            ("to", "1796605324.5"),
            ("limit", "7"),
            ("cursor", "a-b"),
        ]))
        .unwrap();
        assert_eq!(q.from_ns, Some(1_796_605_323_000_000_000));
        assert_eq!(q.to_ns, Some(1_796_605_324_500_000_000));
        assert_eq!((q.limit, q.cursor.as_deref()), (7, Some("a-b")));
        assert_eq!(search_query(&[]).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(
            search_query(&p(&[("limit", "0")])).unwrap_err().parameter,
            "limit"
        );
        assert_eq!(
            search_query(&p(&[("from", "yesterday")]))
                .unwrap_err()
                .parameter,
            "from"
        );
        assert_eq!(parse_cursor(&cursor_text(255, 16)), Some((255, 16)));
        assert_eq!(parse_cursor("zz"), None);
    }
}
