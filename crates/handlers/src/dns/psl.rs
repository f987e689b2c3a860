//! The public suffix list (ICANN section), compiled into the binary, for pktvisor's
//! `public_suffix_list: true` qname aggregation ("www.google.co.uk" aggregates under ".co.uk").
//!
//! Data: Mozilla's Public Suffix List (MPL-2.0), data/public_suffix_list.dat.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("../../data/public_suffix_list.dat");

struct Rules {
    exact: HashSet<&'static str>,
    /// "*.ck" is stored as "ck": any single label under it is a suffix.
    wildcard: HashSet<&'static str>,
    /// "!www.ck": this name is not a suffix although a wildcard covers it.
    exception: HashSet<&'static str>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut r = Rules {
            exact: HashSet::new(),
            wildcard: HashSet::new(),
            exception: HashSet::new(),
        };
        for line in LIST.lines() {
            let line = line.trim();
            if line.starts_with("// ===END ICANN DOMAINS===") {
                break;
            }
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("*.") {
                r.wildcard.insert(rest);
            } else if let Some(rest) = line.strip_prefix('!') {
                r.exception.insert(rest);
            } else {
                r.exact.insert(line);
            }
        }
        r
    })
}

/// Length in bytes of the longest public suffix of `name` (lower case, no trailing dot), 0 if
/// none matches or the whole name is a public suffix (then nothing is registrable under it).
pub fn suffix_len(name: &str) -> usize {
    let r = rules();
    let name = name.trim_end_matches('.');
    let mut best = 0;
    // Every suffix of the name that starts at a label boundary, longest first.
    let starts = std::iter::once(0).chain(name.match_indices('.').map(|(i, _)| i + 1));
    for start in starts {
        let candidate = &name[start..];
        if r.exception.contains(candidate) {
            // The exception's parent is the suffix.
            best = candidate
                .find('.')
                .map_or(0, |dot| candidate.len() - dot - 1);
            break;
        }
        let parent = candidate.split_once('.').map(|(_, p)| p);
        if r.exact.contains(candidate) || parent.is_some_and(|p| r.wildcard.contains(p)) {
            best = candidate.len();
            break;
        }
    }
    if best >= name.len() { 0 } else { best }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_from_the_list() {
        assert_eq!(suffix_len("www.google.co.uk"), "co.uk".len());
        assert_eq!(suffix_len("www.example.com"), "com".len());
        assert_eq!(
            suffix_len("a.b.kawasaki.jp"),
            "b.kawasaki.jp".len(),
            "wildcard *.kawasaki.jp"
        );
        assert_eq!(
            suffix_len("www.city.kawasaki.jp"),
            "kawasaki.jp".len(),
            "exception !city.kawasaki.jp"
        );
        assert_eq!(
            suffix_len("co.uk"),
            0,
            "a bare public suffix has nothing registrable"
        );
        assert_eq!(suffix_len("host.invalid-tld-xyz"), 0);
    }

    #[test]
    fn private_section_is_not_used() {
        // blogspot.com is in the PRIVATE section: only "com" counts here, as in pktvisor's
        // ICANN-only table.
        assert_eq!(suffix_len("foo.blogspot.com"), "com".len());
    }
}
