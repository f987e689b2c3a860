//! Which segments a request needs, from their catalogue records alone (stenographer issue
//! #164, as `pktvisor packets` prunes): a segment is left unopened when no call of the request
//! can take anything from it — it lies outside the time ranges, or every answer depends on
//! rows of keys its Bloom filters say it does not hold.
//!
//! The predicate is conservative, call by call: a row of one key (`Row(f="v")`) may be
//! non-empty only where `v` may be in `f`; `Intersect` where all its rows may be, `Union`/`Xor`
//! where one may, `Difference` where its first may; `Not` and `All` (complements) wherever the
//! time range reaches, conditions (`Row(length > 1400)`) likewise. `TopN` and `GroupBy`
//! without a filter, `Sum`/`Min`/`Max` without a row, and `Rows`, need every segment in the
//! time range that has their fields. Anything not understood here keeps the segment.

use super::{Arg, Call, RowSpec, TimeRange, field_arg, row_spec};
use crate::index::LENGTH;
use crate::index::catalog::Entry;

/// Whether the capture `e` describes may change the answer of any of `calls` (`range`: the
/// request's time range). False only when every call's answer is the same without it.
pub fn may_contribute(calls: &[Call], range: TimeRange, e: &Entry) -> bool {
    calls.iter().any(|c| answer_may_use(c, range, e))
}

/// The capture's packets may fall in `range`.
fn overlaps(range: TimeRange, e: &Entry) -> bool {
    !(range.to.is_some_and(|t| e.min_ts >= t) || range.from.is_some_and(|f| e.max_ts < f))
}

/// Whether the call's filter (its row arguments; none: every packet in range) may hold a
/// packet of the capture.
fn filter_may_hold(call: &Call, range: TimeRange, e: &Entry) -> bool {
    let mut rows = call
        .args
        .iter()
        .filter_map(|a| match a {
            Arg::Call(c) if c.name != "Rows" => Some(c),
            _ => None,
        })
        .peekable();
    match rows.peek() {
        None => overlaps(range, e),
        Some(_) => rows.any(|c| row_may_hold(c, range, e)),
    }
}

fn answer_may_use(call: &Call, range: TimeRange, e: &Entry) -> bool {
    // A field the call names that the capture has no value of; a call that names none fails.
    let has = |field: Result<&str, _>| match field {
        Ok(f) => e.has_field(f),
        Err(_) => true,
    };
    match call.name.as_str() {
        "Count" => match call.args.as_slice() {
            [Arg::Call(inner)] => row_may_hold(inner, range, e),
            _ => true,
        },
        "TopN" => has(field_arg(call)) && filter_may_hold(call, range, e),
        "Rows" => has(field_arg(call)) && overlaps(range, e),
        "GroupBy" => {
            call.args.iter().all(|a| match a {
                Arg::Call(c) if c.name == "Rows" => has(field_arg(c)),
                _ => true,
            }) && filter_may_hold(call, range, e)
        }
        "Sum" | "Min" | "Max" => filter_may_hold(call, range, e),
        _ => row_may_hold(call, range, e),
    }
}

/// Whether the row `call` may hold a packet of the capture.
fn row_may_hold(call: &Call, range: TimeRange, e: &Entry) -> bool {
    if !overlaps(range, e) {
        // Every row is cut to the request's range.
        return false;
    }
    let args = || {
        call.args.iter().filter_map(|a| match a {
            Arg::Call(c) => Some(c),
            _ => None,
        })
    };
    match call.name.as_str() {
        "Row" | "Bitmap" | "Range" => key_may_be_held(call, e),
        "Intersect" => args().all(|c| row_may_hold(c, range, e)),
        "Union" | "Xor" => args().any(|c| row_may_hold(c, range, e)),
        "Difference" => args().next().is_none_or(|c| row_may_hold(c, range, e)),
        _ => true,
    }
}

/// A `Row`: false when its own time range misses the capture, or it is one key the capture
/// certainly lacks (or a condition on a field the capture has no value of).
fn key_may_be_held(call: &Call, e: &Entry) -> bool {
    // As the row reads it; a row it cannot read fails the query anyway.
    let Ok((mut own, spec)) = row_spec(call) else {
        return true;
    };
    // A span before now (`to="15m"`) is read again, later, when the row is answered: an end
    // that moves on is not pruned by.
    if call
        .args
        .iter()
        .any(|a| matches!(a, Arg::Named(k, v) if k == "to" && crate::time::is_relative(&v.key())))
    {
        own.to = None;
    }
    overlaps(own, e)
        && match spec {
            RowSpec::Key(field, value) => e.may_hold(&field, &value),
            RowSpec::Cond(field, _) => field == LENGTH || e.has_field(&field),
        }
}
