//! The filters of `pktvisor packets`: tcpdump's expressions, plus the application fields the
//! index keeps — `http.host == "x"`, `http.method == GET`, `http.user_agent ~ "curl"`,
//! `dns.qname == "a.example"`, `dns.qname ~ ".example"` (a suffix), `dns.qtype == AAAA`,
//! `dns.rcode == NXDOMAIN`, `tls.sni == "x"`, `appproto == TLS` — joined by `and`/`or`/`not`
//! (`&&`, `||`, `!`) and parentheses.
//!
//! A filter without an application field goes to libpcap whole, so it means exactly what it
//! means to tcpdump. With one, the expression is split at its connectives: each run of
//! tcpdump's words between them is compiled on its own (so tcpdump's shorthand that carries a
//! qualifier across `or` — `host a or b` — must be written out there: `host a or host b`), and
//! the connectives are applied here with tcpdump's precedence (`not` first; `and` and `or`
//! equal, from the left).

mod plan;

use crate::error::SearchError;
use crate::index::packet_fields;
use crate::merge::OwnedPacket;
pub(crate) use plan::Plan;
use pv_capture::BpfSet;
use pv_wire::dns::NameText;

/// Application fields: the name in a filter and the index's field.
const APP_FIELDS: [(&str, &str); 8] = [
    ("http.host", "http-hostname"),
    ("http.method", "http-method"),
    ("http.user_agent", "http-useragent"),
    ("tls.sni", "tls-sni"),
    ("dns.qname", "dns-qname"),
    ("dns.qtype", "dns-qtype"),
    ("dns.rcode", "dns-rcode"),
    ("appproto", "appproto"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    /// `~`: a suffix of a DNS name, else a substring.
    Like,
}

enum Node {
    Bpf(BpfSet),
    App {
        field: &'static str,
        op: Op,
        value: String,
    },
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// A compiled filter.
pub struct Filter {
    root: Node,
    /// What the index can narrow it to.
    pub(crate) plan: Plan,
    /// Scratch for the packet's DNS name.
    name: NameText,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Word(String),
    Open,
    Close,
    And,
    Or,
    Not,
}

fn syntax(at: &str, why: &str) -> SearchError {
    SearchError::Filter {
        message: format!("{why} (at '{at}')"),
    }
}

pub(crate) fn tokens(text: &str) -> Result<Vec<Tok>, SearchError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            // `!udp`, `!(a or b)`: negation glued to what follows (but not `!=`).
            '!' if !text[i + 1..].starts_with('=') => {
                chars.next();
                out.push(Tok::Not);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(syntax(&text[i..], "a string that does not end")),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => {
                            if let Some((_, e)) = chars.next() {
                                s.push(e);
                            }
                        }
                        Some((_, x)) => s.push(x),
                    }
                }
                // Quoted: never a connective.
                out.push(Tok::Word(format!("\"{s}")));
            }
            _ => {
                // A word runs to whitespace or a parenthesis, but brackets keep theirs
                // (`tcp[(13)]` is one of tcpdump's words).
                let mut depth = 0i32;
                let mut w = String::new();
                while let Some(&(_, x)) = chars.peek() {
                    if depth == 0 && (x.is_whitespace() || x == '(' || x == ')') {
                        break;
                    }
                    depth += i32::from(x == '[') - i32::from(x == ']');
                    w.push(x);
                    chars.next();
                }
                out.push(match w.as_str() {
                    "and" | "&&" => Tok::And,
                    "or" | "||" => Tok::Or,
                    "not" | "!" => Tok::Not,
                    _ => Tok::Word(w),
                });
            }
        }
    }
    Ok(out)
}

fn is_app_field(w: &str) -> bool {
    APP_FIELDS.iter().any(|(name, _)| *name == w)
}

impl Filter {
    /// Compiles `text`; None for an empty filter (every packet).
    pub fn new(text: &str) -> Result<Option<Filter>, SearchError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let toks = tokens(text)?;
        let has_app = toks
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if is_app_field(w)));
        let root = if has_app {
            Parser::parse(text, toks, Nodes)?
        } else {
            // tcpdump's own expression: libpcap compiles it whole.
            Node::Bpf(BpfSet::new(text)?)
        };
        Ok(Some(Filter {
            root,
            plan: Plan::of(text),
            name: NameText::new(),
        }))
    }

    pub fn matches(&mut self, p: &OwnedPacket) -> Result<bool, SearchError> {
        let mut fields = None;
        eval(&mut self.root, p, &mut fields, &mut self.name)
    }
}

/// The packet's application fields, read once per packet when a filter needs them.
type Fields = Option<Vec<(&'static str, String)>>;

fn eval(
    node: &mut Node,
    p: &OwnedPacket,
    fields: &mut Fields,
    name: &mut NameText,
) -> Result<bool, SearchError> {
    Ok(match node {
        Node::Bpf(b) => b.matches(p.linktype, &p.data, p.orig_len)?,
        Node::Not(n) => !eval(n, p, fields, name)?,
        Node::And(a, b) => eval(a, p, fields, name)? && eval(b, p, fields, name)?,
        Node::Or(a, b) => eval(a, p, fields, name)? || eval(b, p, fields, name)?,
        Node::App { field, op, value } => {
            let all = fields.get_or_insert_with(|| {
                let mut v = Vec::new();
                packet_fields(p.linktype, &p.data, name, &mut |f, x| {
                    v.push((f, x.to_text()))
                });
                v
            });
            let mut values = all.iter().filter(|(f, _)| f == field).map(|(_, x)| x);
            match op {
                Op::Eq => values.any(|x| x == value),
                // As tshark's `!=`: the packet has the field, with another value.
                Op::Ne => values.any(|x| x != value),
                Op::Like if *field == "dns-qname" => values.any(|x| x.ends_with(value.as_str())),
                Op::Like => values.any(|x| x.contains(value.as_str())),
            }
        }
    })
}

/// What a parse of a filter makes: the filter itself (`Nodes`), or what the index can narrow
/// it to (`plan::Plans`). One parser, so that both read an expression alike.
pub(crate) trait Build {
    type Node;
    /// A run of tcpdump's words between connectives and parentheses.
    fn words(&mut self, words: &[String]) -> Result<Self::Node, SearchError>;
    fn app(&mut self, field: &'static str, op: Op, value: String) -> Self::Node;
    fn not(&mut self, n: Self::Node) -> Self::Node;
    fn and(&mut self, a: Self::Node, b: Self::Node) -> Self::Node;
    fn or(&mut self, a: Self::Node, b: Self::Node) -> Self::Node;
}

/// The filter's own tree: tcpdump's runs compiled by libpcap.
struct Nodes;

impl Build for Nodes {
    type Node = Node;
    fn words(&mut self, words: &[String]) -> Result<Node, SearchError> {
        Ok(Node::Bpf(BpfSet::new(&words.join(" "))?))
    }
    fn app(&mut self, field: &'static str, op: Op, value: String) -> Node {
        Node::App { field, op, value }
    }
    fn not(&mut self, n: Node) -> Node {
        Node::Not(Box::new(n))
    }
    fn and(&mut self, a: Node, b: Node) -> Node {
        Node::And(Box::new(a), Box::new(b))
    }
    fn or(&mut self, a: Node, b: Node) -> Node {
        Node::Or(Box::new(a), Box::new(b))
    }
}

pub(crate) struct Parser<B> {
    toks: Vec<Tok>,
    at: usize,
    build: B,
}

impl<B: Build> Parser<B> {
    /// The whole expression of `toks` (`text` for messages).
    pub(crate) fn parse(text: &str, toks: Vec<Tok>, build: B) -> Result<B::Node, SearchError> {
        let mut p = Parser { toks, at: 0, build };
        let node = p.expr()?;
        if p.at < p.toks.len() {
            return Err(syntax(text, "a ')' without its '('"));
        }
        Ok(node)
    }

    /// terms joined by `and`/`or`, from the left, equal precedence (pcap-filter(7)).
    fn expr(&mut self) -> Result<B::Node, SearchError> {
        let mut left = self.unary()?;
        loop {
            match self.toks.get(self.at) {
                Some(Tok::And) => {
                    self.at += 1;
                    let right = self.unary()?;
                    left = self.build.and(left, right);
                }
                Some(Tok::Or) => {
                    self.at += 1;
                    let right = self.unary()?;
                    left = self.build.or(left, right);
                }
                _ => return Ok(left),
            }
        }
    }

    fn unary(&mut self) -> Result<B::Node, SearchError> {
        match self.toks.get(self.at) {
            Some(Tok::Not) => {
                self.at += 1;
                let inner = self.unary()?;
                Ok(self.build.not(inner))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.expr()?;
                if self.toks.get(self.at) != Some(&Tok::Close) {
                    return Err(syntax(&self.rest(), "a '(' without its ')'"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Tok::Word(w)) if is_app_field(w) => self.app(),
            Some(Tok::Word(_)) => {
                // tcpdump's words up to the next connective or parenthesis.
                let mut words = Vec::new();
                while let Some(Tok::Word(w)) = self.toks.get(self.at) {
                    if is_app_field(w) {
                        break;
                    }
                    words.push(w.trim_start_matches('"').to_string());
                    self.at += 1;
                }
                self.build.words(&words)
            }
            _ => Err(syntax(&self.rest(), "expected a primitive")),
        }
    }

    fn app(&mut self) -> Result<B::Node, SearchError> {
        let Some(Tok::Word(name)) = self.toks.get(self.at).cloned() else {
            return Err(syntax(&self.rest(), "expected a field"));
        };
        let field = APP_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| syntax(&name, "unknown field"))?;
        let op = match self.toks.get(self.at + 1) {
            Some(Tok::Word(o)) if o == "==" => Op::Eq,
            Some(Tok::Word(o)) if o == "!=" => Op::Ne,
            Some(Tok::Word(o)) if o == "~" => Op::Like,
            _ => return Err(syntax(&self.rest(), "expected ==, != or ~ after the field")),
        };
        let Some(Tok::Word(value)) = self.toks.get(self.at + 2).cloned() else {
            return Err(syntax(&self.rest(), "expected a value"));
        };
        self.at += 3;
        let mut value = value.trim_start_matches('"').to_string();
        // The index keeps names lowercase (DNS names are case-insensitive).
        if field == "dns-qname" {
            value = value.to_ascii_lowercase();
        }
        Ok(self.build.app(field, op, value))
    }

    fn rest(&self) -> String {
        format!("{:?}", self.toks.get(self.at..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_connectives_and_quotes() {
        let t = tokens("tcp[(13)] & 2 != 0 and (dns.qname ~ \".a b\" || !udp)").unwrap();
        assert_eq!(
            t,
            [
                Tok::Word("tcp[(13)]".into()),
                Tok::Word("&".into()),
                Tok::Word("2".into()),
                Tok::Word("!=".into()),
                Tok::Word("0".into()),
                Tok::And,
                Tok::Open,
                Tok::Word("dns.qname".into()),
                Tok::Word("~".into()),
                Tok::Word("\".a b".into()),
                Tok::Or,
                Tok::Not,
                Tok::Word("udp".into()),
                Tok::Close,
            ]
        );
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (f, why) in [
            ("dns.qname", "expected ==, != or ~"),
            ("dns.qname ==", "expected a value"),
            ("(dns.qname == x", "without its ')'"),
            ("dns.qname == x)", "without its '('"),
            ("http.host == \"x", "does not end"),
            ("dns.qname == x and port nonsense", "invalid BPF filter"),
        ] {
            let e = Filter::new(f).err().expect(f).to_string();
            assert!(e.contains(why), "{f}: {e}");
        }
    }
}
