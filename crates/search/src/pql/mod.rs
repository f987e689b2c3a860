//! PQL, the query language of Pilosa that picap's users wrote, answered on segments.

mod eval;
mod parse;

pub(crate) use eval::Bits;
pub use eval::{Index, QueryError, TimeRange, may_contribute};
pub use parse::{Call, SyntaxError, parse};
