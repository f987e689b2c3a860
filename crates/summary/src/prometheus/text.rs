//! The Prometheus text exposition format (0.0.4): families declared once with `# HELP` and
//! `# TYPE`, samples `name{labels} value`, label values and help text escaped.

use std::collections::HashSet;
use std::fmt::Write;

/// An exposition being written. Every sample carries the common labels (policy, instance).
pub struct Exposition {
    out: String,
    common: Vec<(String, String)>,
    declared: HashSet<String>,
}

/// Label values escape backslash, double quote and newline (the format's only escapes).
pub fn escape_label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Help text escapes backslash and newline only (a quote is literal there).
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A metric name from JSON keys: anything outside `[a-zA-Z0-9_:]` becomes `_` (JSON keys are
/// free text; metric names are not).
pub fn metric_name(parts: &[&str]) -> String {
    let joined = parts.join("_");
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

impl Exposition {
    pub fn new(common: Vec<(String, String)>) -> Self {
        Exposition {
            out: String::new(),
            common,
            declared: HashSet::new(),
        }
    }

    /// Replaces the labels every following sample carries (the next policy or module).
    pub fn set_common(&mut self, common: Vec<(String, String)>) {
        self.common = common;
    }

    /// Declares a family; a second declaration of the same name is ignored, so that its
    /// samples stay under one HELP/TYPE (the format requires it).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        if self.declared.insert(name.to_string()) {
            let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
        }
    }

    /// One sample: the common labels, then `extra`.
    pub fn sample(&mut self, name: &str, extra: &[(&str, &str)], value: &str) {
        self.out.push_str(name);
        let labels = self
            .common
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied());
        let mut first = true;
        for (k, v) in labels {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
        }
        if !first {
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family of one sample for each `(name, help, value)` row, all of one `kind` and with
    /// the same `labels`: the tables of health counters and gauges.
    pub fn table<'a, V: std::fmt::Display>(
        &mut self,
        kind: &str,
        labels: &[(&str, &str)],
        rows: impl IntoIterator<Item = (&'a str, &'a str, V)>,
    ) {
        for (name, help, value) in rows {
            self.family(name, kind, help);
            self.sample(name, labels, &value.to_string());
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_names() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(
            metric_name(&["packets", "top_geoLoc"]),
            "packets_top_geoLoc"
        );
        assert_eq!(metric_name(&["a-b", "c.d"]), "a_b_c_d");
        assert_eq!(metric_name(&["9x"]), "_9x");
        let mut e = Exposition::new(vec![("policy".into(), "default".into())]);
        e.family("m", "gauge", "h\\elp\nx");
        e.family("m", "gauge", "again");
        e.sample("m", &[("qname", "q\"")], "3");
        assert_eq!(
            e.finish(),
            "# HELP m h\\\\elp\\nx\n# TYPE m gauge\nm{policy=\"default\",qname=\"q\\\"\"} 3\n"
        );
        let mut e = Exposition::new(vec![]);
        e.sample("m", &[], "1");
        assert_eq!(e.finish(), "m 1\n");
    }
}
