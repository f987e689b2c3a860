//! DNS messages (being written).
