//! Whether the agent speaks the API this client was built against: pktvisor's JSON grows keys
//! between minor versions, so a different major.minor gets a warning (the screens still work,
//! showing `-` for what is missing).

/// A warning when `agent`'s major.minor differs from `ours`; None when they match.
pub fn mismatch(agent: &str, ours: &str) -> Option<String> {
    let major_minor = |v: &str| {
        let mut parts = v.trim_start_matches('v').split(['.', '-']);
        (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        )
    };
    let (a, o) = (major_minor(agent), major_minor(ours));
    if a == o {
        return None;
    }
    let which = if (a.0.parse::<u64>().ok(), a.1.parse::<u64>().ok())
        > (o.0.parse::<u64>().ok(), o.1.parse::<u64>().ok())
    {
        "newer"
    } else {
        "older"
    };
    Some(format!(
        "agent version {agent} is {which} than this client ({ours}): some numbers may show -"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor_decides() {
        assert_eq!(mismatch("0.1.7", "0.1.0"), None);
        assert!(mismatch("0.2.0", "0.1.0").unwrap().contains("newer"));
        assert!(mismatch("4.4.0", "0.1.0").unwrap().contains("newer"));
        assert!(mismatch("0.0.9", "0.1.0").unwrap().contains("older"));
    }
}
