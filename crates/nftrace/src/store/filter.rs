//! The trace filter language (visor's `-q`): comparisons `==`, `!=`, `<`, `<=`, `>`, `>=`,
//! `in (...)`, `not in (...)`, joined by `and`, `or`, `not` and parentheses; values are
//! numbers, words or quoted strings; addresses take CIDRs. Parsed into a tree whose every
//! value is typed by its field here, so that a wrong value is a 400 with its position, and
//! the SQL built from it (`sql.rs`) has only bound parameters.

use std::net::IpAddr;

/// The fields a filter can name (visor-cli's flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Trid,
    Table,
    Chain,
    Jt,
    Handle,
    Family,
    Iif,
    Oif,
    HwSrc,
    HwDst,
    IpSrc,
    IpDst,
    Sport,
    Dport,
    Len,
    Proto,
    Verdict,
    AgentId,
    Netns,
}

/// What a field's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Address,
}

impl Field {
    /// Every field with its name as the URL parameter and the CLI flag spell it (`ip-dst`);
    /// `-q` takes it with `_` too (`ip_dst`).
    pub const ALL: [(Field, &'static str); 19] = [
        (Field::Trid, "trid"),
        (Field::Table, "table"),
        (Field::Chain, "chain"),
        (Field::Jt, "jt"),
        (Field::Handle, "handle"),
        (Field::Family, "family"),
        (Field::Iif, "iif"),
        (Field::Oif, "oif"),
        (Field::HwSrc, "hw-src"),
        (Field::HwDst, "hw-dst"),
        (Field::IpSrc, "ip-src"),
        (Field::IpDst, "ip-dst"),
        (Field::Sport, "sport"),
        (Field::Dport, "dport"),
        (Field::Len, "len"),
        (Field::Proto, "proto"),
        (Field::Verdict, "verdict"),
        (Field::AgentId, "agent-id"),
        (Field::Netns, "netns"),
    ];

    pub fn from_name(name: &str) -> Option<Field> {
        let name = name.to_ascii_lowercase().replace('_', "-");
        Field::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::Trid
            | Field::Handle
            | Field::Sport
            | Field::Dport
            | Field::Len
            | Field::Proto => Kind::Number,
            Field::IpSrc | Field::IpDst => Kind::Address,
            _ => Kind::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A typed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Number(u64),
    Text(String),
    /// An address and a prefix length (32/128 for a single address).
    Net(IpAddr, u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Matches every record (no filter).
    True,
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Field, Op, Value),
}

impl Expr {
    pub fn and(self, other: Expr) -> Expr {
        match (self, other) {
            (Expr::True, e) | (e, Expr::True) => e,
            (a, b) => Expr::And(Box::new(a), Box::new(b)),
        }
    }

    fn any(field: Field, values: Vec<Value>) -> Expr {
        let mut it = values.into_iter().map(|v| Expr::Cmp(field, Op::Eq, v));
        let first = it.next().unwrap_or(Expr::Not(Box::new(Expr::True)));
        it.fold(first, |a, b| Expr::Or(Box::new(a), Box::new(b)))
    }
}

/// A filter that does not parse: where (0-based character offset) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: expected {expected}, found {found}")]
pub struct FilterError {
    pub position: usize,
    pub expected: String,
    pub found: String,
}

/// A value of `field` as the URL parameter, the CLI flag or `-q` writes it.
pub fn typed_value(field: Field, text: &str, position: usize) -> Result<Value, FilterError> {
    let bad = |expected: &str| FilterError {
        position,
        expected: expected.to_owned(),
        found: format!("'{text}'"),
    };
    match field.kind() {
        Kind::Number => {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Value::Number(n));
            }
            if field == Field::Proto
                && let Some(n) = proto_number(text)
            {
                return Ok(Value::Number(n));
            }
            Err(bad(if field == Field::Proto {
                "a protocol number or name (tcp, udp, icmp, icmpv6, sctp, udplite, dccp, gre, esp, ah)"
            } else {
                "a number"
            }))
        }
        Kind::Address => {
            let (addr, prefix) = match text.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (text, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad("an IP address or CIDR"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| bad("a prefix length of the address's family"))?,
            };
            Ok(Value::Net(addr, prefix))
        }
        Kind::Text => Ok(Value::Text(text.to_owned())),
    }
}

/// IP protocol numbers by the names nft and visor use.
pub fn proto_number(name: &str) -> Option<u64> {
    const NAMES: [(&str, u64); 10] = [
        ("icmp", 1),
        ("tcp", 6),
        ("udp", 17),
        ("gre", 47),
        ("esp", 50),
        ("ah", 51),
        ("icmpv6", 58),
        ("sctp", 132),
        ("udplite", 136),
        ("dccp", 33),
    ];
    let name = name.to_ascii_lowercase();
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of an IP protocol number, for output.
pub fn proto_name(number: u8) -> Option<&'static str> {
    match number {
        1 => Some("icmp"),
        6 => Some("tcp"),
        17 => Some("udp"),
        58 => Some("icmpv6"),
        132 => Some("sctp"),
        136 => Some("udplite"),
        _ => None,
    }
}

/// Per-field lists (`dport=53,80`): OR within a field, AND between fields.
pub fn from_lists<'a>(
    lists: impl IntoIterator<Item = (Field, &'a str)>,
) -> Result<Expr, FilterError> {
    let mut expr = Expr::True;
    for (field, list) in lists {
        let values = list
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| typed_value(field, v, 0))
            .collect::<Result<Vec<_>, _>>()?;
        if !values.is_empty() {
            expr = expr.and(Expr::any(field, values));
        }
    }
    Ok(expr)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
    Comma,
    End,
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(q) => format!("\"{q}\""),
        Token::Op(_) => "an operator".into(),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
        Token::End => "the end".into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let two = chars.get(i + 1).copied();
        let token = match (c, two) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => Token::Open,
            (')', _) => Token::Close,
            (',', _) => Token::Comma,
            ('=', Some('=')) | ('!', Some('=')) | ('<', Some('=')) | ('>', Some('=')) => {
                i += 1;
                Token::Op(match c {
                    '=' => Op::Eq,
                    '!' => Op::Ne,
                    '<' => Op::Le,
                    _ => Op::Ge,
                })
            }
            ('<', _) => Token::Op(Op::Lt),
            ('>', _) => Token::Op(Op::Gt),
            ('\'' | '"', _) => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(FilterError {
                                position: start,
                                expected: format!("a closing {c}"),
                                found: "the end".into(),
                            });
                        }
                        Some(&q) if q == c => break,
                        Some(&'\\') if chars.get(i + 1).is_some() => {
                            s.extend(chars.get(i + 1));
                            i += 1;
                        }
                        Some(&o) => s.push(o),
                    }
                    i += 1;
                }
                Token::Quoted(s)
            }
            (c, _) if is_word(c) => {
                while chars.get(i + 1).is_some_and(|&c| is_word(c)) {
                    i += 1;
                }
                Token::Word(chars.get(start..=i).unwrap_or_default().iter().collect())
            }
            (c, _) => {
                return Err(FilterError {
                    position: start,
                    expected: "a field, a value, an operator or a parenthesis".into(),
                    found: format!("'{c}'"),
                });
            }
        };
        out.push((start, token));
        i += 1;
    }
    out.push((chars.len(), Token::End));
    Ok(out)
}

/// Characters of unquoted words: field names, numbers, names, addresses, CIDRs, MACs.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
}

/// Parses `-q`. An empty expression matches every record.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    if p.peek() == &Token::End {
        return Ok(Expr::True);
    }
    let e = p.or()?;
    match p.peek() {
        Token::End => Ok(e),
        _ => Err(p.error("'and', 'or' or the end")),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.at).map_or(&Token::End, |(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(0, |(p, _)| *p)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.at += 1;
        t
    }

    fn error(&self, expected: &str) -> FilterError {
        FilterError {
            position: self.position(),
            expected: expected.into(),
            found: describe(self.peek()),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == &Token::Open {
            self.at += 1;
            let e = self.or()?;
            if self.peek() != &Token::Close {
                return Err(self.error("')'"));
            }
            self.at += 1;
            return Ok(e);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let field = match self.peek() {
            Token::Word(w) => Field::from_name(w),
            _ => None,
        }
        .ok_or_else(|| self.error(&format!("a field ({})", field_names())))?;
        self.at += 1;
        if self.keyword("in") || self.keyword("not") {
            let negated = self.keyword("not");
            self.at += 1;
            if negated && !self.keyword("in") {
                return Err(self.error("'in'"));
            }
            if negated {
                self.at += 1;
            }
            let values = self.list(field)?;
            let any = Expr::any(field, values);
            return Ok(if negated {
                Expr::Not(Box::new(any))
            } else {
                any
            });
        }
        let op = match self.peek() {
            Token::Op(op) => *op,
            _ => return Err(self.error("==, !=, <, <=, >, >=, 'in' or 'not in'")),
        };
        if field.kind() != Kind::Number && !matches!(op, Op::Eq | Op::Ne) {
            return Err(self.error(&format!(
                "== or != ({} is not a number)",
                describe(&Token::Word(field_name(field).into()))
            )));
        }
        self.at += 1;
        let value = self.value(field)?;
        Ok(Expr::Cmp(field, op, value))
    }

    fn list(&mut self, field: Field) -> Result<Vec<Value>, FilterError> {
        if self.next() != Token::Open {
            self.at -= 1;
            return Err(self.error("'('"));
        }
        let mut values = vec![self.value(field)?];
        loop {
            match self.next() {
                Token::Comma => values.push(self.value(field)?),
                Token::Close => return Ok(values),
                _ => {
                    self.at -= 1;
                    return Err(self.error("',' or ')'"));
                }
            }
        }
    }

    fn value(&mut self, field: Field) -> Result<Value, FilterError> {
        let position = self.position();
        match self.peek().clone() {
            Token::Word(w) | Token::Quoted(w) => {
                self.at += 1;
                typed_value(field, &w, position)
            }
            _ => Err(self.error("a value")),
        }
    }
}

fn field_name(field: Field) -> &'static str {
    Field::ALL
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("", |(_, n)| n)
}

fn field_names() -> String {
    Field::ALL
        .iter()
        .map(|(_, n)| n.replace('-', "_"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
