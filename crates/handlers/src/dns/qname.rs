//! pktvisor's qname aggregation for `top_qname2` / `top_qname3`.
//!
//! The names are cut at the last two and three labels, keeping the leading dot
//! ("biz.foo.bar.com" → ".bar.com", ".foo.bar.com"). A known suffix (from `only_qname_suffix` or
//! the public suffix list) shifts the cut left by that suffix, so "www.google.co.uk" with
//! suffix ".co.uk" aggregates to ".google.co.uk" and "www.google.co.uk". Degenerate names keep
//! pktvisor's exact results (see the tests, taken from pktvisor's own expectations).

/// (qname2, qname3); qname3 is empty when the name has too few labels.
pub fn aggregate(domain: &str, suffix_len: usize) -> (&str, &str) {
    let bytes = domain.as_bytes();
    let len = bytes.len();
    // The smallest name ever aggregated is "a.b.c".
    if len < 5 {
        return (domain, "");
    }
    // Search for dots at or before `end` (inclusive), right to left.
    let end = if suffix_len > 0 && len > suffix_len {
        Some(len - suffix_len)
    } else if bytes[len - 1] == b'.' {
        Some(len - 2)
    } else {
        None
    };
    let rfind = |upto: Option<usize>| -> Option<usize> {
        let stop = upto.map_or(len, |u| (u + 1).min(len));
        bytes[..stop].iter().rposition(|b| *b == b'.')
    };
    let mut qname2 = domain;
    let mut qname3 = domain;
    if let Some(first) = rfind(end).filter(|f| *f > 0) {
        match rfind(Some(first - 1)) {
            Some(second) => {
                qname2 = &domain[second..];
                if second > 0
                    && let Some(third) = rfind(Some(second - 1))
                {
                    qname3 = &domain[third..];
                }
            }
            None => qname3 = "",
        }
    }
    (qname2, qname3)
}

/// [`aggregate`] for a name whose `.` offsets are known (ascending, every `.` of the text,
/// escaped ones included, as [`pv_wire::dns::NameText`] gives them): the same cuts, found
/// without scanning the text. The name is given as its bytes (the handler keeps it so).
#[inline]
pub fn aggregate_at<'a>(domain: &'a [u8], dots: &[u16], suffix_len: usize) -> (&'a [u8], &'a [u8]) {
    let bytes = domain;
    let len = bytes.len();
    if len < 5 {
        return (domain, &[]);
    }
    // Same bound as `aggregate`: the first cut is the last dot at or before `end`.
    let end = if suffix_len > 0 && len > suffix_len {
        len - suffix_len
    } else if bytes[len - 1] == b'.' {
        len - 2
    } else {
        usize::MAX
    };
    // Dots at or before `end`: dots[..upto]. Each further cut is the dot before the previous.
    let upto = dots
        .iter()
        .rposition(|&d| usize::from(d) <= end)
        .map_or(0, |i| i + 1);
    let cut = |i: usize| domain.get(usize::from(dots[i])..).unwrap_or(domain);
    match upto {
        0 => (domain, domain),
        // The only dot at or before `end` is at 0: no cut (as `aggregate`'s `first > 0`).
        _ if dots[upto - 1] == 0 => (domain, domain),
        1 => (domain, &[]),
        2 => (cut(0), domain),
        _ if dots[upto - 2] == 0 => (cut(upto - 2), domain),
        _ => (cut(upto - 2), cut(upto - 3)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dots(s: &str) -> Vec<u16> {
        s.bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'.')
            .map(|(i, _)| i as u16)
            .collect()
    }

    #[test]
    fn cuts_from_dot_offsets_match_the_scan() {
        // Every string of up to 7 bytes over {a, ., \\}, with every suffix length.
        let alphabet = [b'a', b'.', b'\\'];
        let mut names = vec![String::new()];
        for _ in 0..7 {
            let longer: Vec<String> = names
                .iter()
                .filter(|n| n.len() == names.last().map_or(0, |l| l.len()))
                .flat_map(|n| alphabet.iter().map(move |b| format!("{n}{}", *b as char)))
                .collect();
            names.extend(longer);
        }
        names.extend(
            [
                "biz.foo.bar.com",
                "www.google.co.uk",
                "a.b.c.d.e.f",
                "x.bench.test.",
            ]
            .map(String::from),
        );
        for name in &names {
            for suffix in 0..=name.len() + 1 {
                let (q2, q3) = aggregate(name, suffix);
                assert_eq!(
                    aggregate_at(name.as_bytes(), &dots(name), suffix),
                    (q2.as_bytes(), q3.as_bytes()),
                    "{name:?} / {suffix}"
                );
            }
        }
    }

    #[test]
    fn pktvisor_expectations() {
        for (domain, q2, q3) in [
            ("biz.foo.bar.com", ".bar.com", ".foo.bar.com"),
            ("a.com", "a.com", ""),
            ("abcdefg.com.", "abcdefg.com.", ""),
            ("foo.bar.com", ".bar.com", "foo.bar.com"),
            (".", ".", ""),
            ("..", "..", ""),
            ("a", "a", ""),
            ("a.", "a.", ""),
            ("foo.bar.com.", ".bar.com.", "foo.bar.com."),
            (".foo.bar.com", ".bar.com", ".foo.bar.com"),
            ("a.b.c", ".b.c", "a.b.c"),
            (".b.c", ".b.c", ""),
        ] {
            assert_eq!(aggregate(domain, 0), (q2, q3), "{domain}");
        }
    }

    #[test]
    fn pktvisor_expectations_with_suffix() {
        for (domain, suffix, q2, q3) in [
            (
                "biz.foo.bar.com",
                ".bar.com",
                ".foo.bar.com",
                "biz.foo.bar.com",
            ),
            (
                "biz.foo.bar.com",
                "bar.com",
                ".foo.bar.com",
                "biz.foo.bar.com",
            ),
            ("biz.foo.bar.com", "foo.bar.com", "biz.foo.bar.com", ""),
            (
                "foo.bar.com.",
                "biz.foo.bar.com",
                ".bar.com.",
                "foo.bar.com.",
            ),
            (
                "www.google.co.uk",
                ".co.uk",
                ".google.co.uk",
                "www.google.co.uk",
            ),
            ("www.google.co.uk", "google.co.uk", "www.google.co.uk", ""),
        ] {
            assert_eq!(
                aggregate(domain, suffix.len()),
                (q2, q3),
                "{domain} / {suffix}"
            );
        }
    }
}
