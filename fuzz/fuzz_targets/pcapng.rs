//! Arbitrary bytes as a pcapng file, seeded with real pcapng captures (editcap's rewrites of
//! the fixtures, carrying section and interface options: if_tsresol, if_tsoffset, if_snaplen,
//! comments), so that mutations reach the block and option parsers instead of dying at the
//! magic number. Every packet the reader hands out must lie inside the block it came from and
//! name an interface the file described; damage must be an error value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_capture::{FileReader, MAX_BLOCK_LEN};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = FileReader::from_reader("fuzz", Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    loop {
        let linktype = match reader.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= MAX_BLOCK_LEN as usize);
                p.linktype
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                break;
            }
        };
        assert!(reader.linktypes().contains(&linktype), "{linktype}");
    }
    let _ = (reader.linktypes(), reader.snaplen(), reader.format());
});
