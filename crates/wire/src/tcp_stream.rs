//! TCP stream reassembly for DNS over TCP (being written).
