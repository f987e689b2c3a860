//! A stored record's flat fields ([`Row`]) read back from its JSON: the hub receives the
//! records an agent emitted as JSON (the agent's own stored form, byte for byte) and files
//! them under the same columns the agent's store has. A record that is not one (a field
//! missing or of the wrong type) is refused whole, naming the field.

use super::sql::Row;
use serde_json::Value;
use std::net::IpAddr;

/// Why a JSON text is not a trace record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("a trace record is not a JSON object: {0}")]
    NotJson(String),
    #[error("a trace record's '{0}' is missing or not of its type")]
    Field(&'static str),
}

fn text(v: &Value, key: &'static str) -> Result<String, RowError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(RowError::Field(key))
}

/// An optional field: absent or null is None, present of another type an error.
fn opt<T>(
    v: &Value,
    key: &'static str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, RowError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => read(x).map(Some).ok_or(RowError::Field(key)),
    }
}

fn number<T: TryFrom<u64>>(x: &Value) -> Option<T> {
    x.as_u64().and_then(|n| T::try_from(n).ok())
}

impl Row {
    /// The row of a record's JSON as [`super::stored`] writes it (with `agent_id`).
    pub fn from_json(json: &[u8]) -> Result<Row, RowError> {
        let v: Value =
            serde_json::from_slice(json).map_err(|e| RowError::NotJson(e.to_string()))?;
        if !v.is_object() {
            return Err(RowError::NotJson("not an object".into()));
        }
        let mut jt: Vec<String> = match v.get("path") {
            Some(Value::Array(steps)) => steps
                .iter()
                .filter_map(|s| s.get("target").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(RowError::Field("path")),
        };
        jt.dedup();
        let address = |x: &Value| x.as_str().and_then(|s| s.parse::<IpAddr>().ok());
        Ok(Row {
            time_ns: v
                .get("time_ns")
                .and_then(Value::as_u64)
                .ok_or(RowError::Field("time_ns"))?,
            agent_id: text(&v, "agent_id")?,
            netns: text(&v, "netns")?,
            trace_id: v
                .get("trace_id")
                .and_then(number::<u32>)
                .ok_or(RowError::Field("trace_id"))?,
            family: text(&v, "family")?,
            table: text(&v, "table")?,
            chain: text(&v, "chain")?,
            verdict: text(&v, "verdict")?,
            handle: opt(&v, "rule", |r| r.get("handle").and_then(Value::as_u64))?,
            jt,
            iif: opt(&v, "iif", |x| x.as_str().map(str::to_owned))?,
            oif: opt(&v, "oif", |x| x.as_str().map(str::to_owned))?,
            hw_src: opt(&v, "hw_src", |x| x.as_str().map(str::to_owned))?,
            hw_dst: opt(&v, "hw_dst", |x| x.as_str().map(str::to_owned))?,
            ip_src: opt(&v, "ip_src", address)?,
            ip_dst: opt(&v, "ip_dst", address)?,
            sport: opt(&v, "sport", number::<u16>)?,
            dport: opt(&v, "dport", number::<u16>)?,
            len: opt(&v, "len", number::<u32>)?,
            proto: opt(&v, "proto", number::<u8>)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored;
    use crate::store::tests::record;

    #[test]
    fn the_row_of_a_records_json_is_the_row_of_the_record() {
        // Row::new reads the typed record; from_json its JSON: they must agree on every
        // kind of record the store tests make (v4/v6, ICMP without ports, jumps, policy
        // verdicts, no deciding rule).
        for i in 0..200 {
            let (row, json) = stored(&record(i), "agent-1").unwrap();
            assert_eq!(Row::from_json(json.as_bytes()).unwrap(), row, "record {i}");
        }
    }

    #[test]
    fn what_is_not_a_record_is_refused_naming_the_field() {
        let (_, json) = stored(&record(1), "a").unwrap();
        let mut v: Value = serde_json::from_str(&json).unwrap();
        v["sport"] = Value::from(70_000);
        let e = Row::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e, RowError::Field("sport"));
        v.as_object_mut().unwrap().remove("time_ns");
        let e = Row::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e, RowError::Field("time_ns"));
        assert!(matches!(Row::from_json(b"[1]"), Err(RowError::NotJson(_))));
        assert!(matches!(
            Row::from_json(&json.as_bytes()[..json.len() / 2]),
            Err(RowError::NotJson(_))
        ));
    }
}
