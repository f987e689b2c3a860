//! PQL as Pilosa 0.x and 1.x spell it, read into calls: `Count(Intersect(Row(netsrc="10.0.0.1"),
//! Row(tcp="SYN")))`, `TopN(frame=http-hostname, n=3)`, `Row(1000 <= length < 1500)`. A syntax
//! error names the byte offset and what was expected there.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    /// A bare word (`frame=http-hostname`, `rowID=x`).
    Word(String),
}

impl Value {
    /// The value as a row key: strings and words as written, integers in decimal.
    pub fn key(&self) -> String {
        match self {
            Value::Str(s) | Value::Word(s) => s.clone(),
            Value::Int(i) => i.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Call(Call),
    /// `key=value`
    Named(String, Value),
    /// `field OP n`, or `n OP field OP n` (stored as two conditions on the field).
    Cond(String, Vec<(Op, i64)>),
    /// A bare value (`TopN(netsrc, ...)`: the field).
    Value(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
    /// Byte offset of the call's name in the query.
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PQL syntax error at byte {}: {}", self.at, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Int(i64),
    Open,
    Close,
    Comma,
    Op(Op),
    Assign,
}

fn describe(t: Option<&(usize, Tok)>) -> String {
    match t {
        None => "the end".to_string(),
        Some((_, Tok::Word(w))) => format!("'{w}'"),
        Some((_, Tok::Str(s))) => format!("\"{s}\""),
        Some((_, Tok::Int(i))) => i.to_string(),
        Some((_, Tok::Open)) => "'('".into(),
        Some((_, Tok::Close)) => "')'".into(),
        Some((_, Tok::Comma)) => "','".into(),
        Some((_, Tok::Op(_))) => "a comparison".into(),
        Some((_, Tok::Assign)) => "'='".into(),
    }
}

fn tokens(q: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: &str| SyntaxError {
        at,
        message: message.to_string(),
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => out.push((start, Tok::Open)),
            b')' => out.push((start, Tok::Close)),
            b',' => out.push((start, Tok::Comma)),
            b'=' if b.get(i + 1) == Some(&b'=') => {
                i += 1;
                out.push((start, Tok::Op(Op::Eq)));
            }
            b'=' => out.push((start, Tok::Assign)),
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 1;
                out.push((start, Tok::Op(Op::Ne)));
            }
            b'<' | b'>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    (b'<', false) => Op::Lt,
                    (b'<', true) => Op::Le,
                    (_, false) => Op::Gt,
                    (_, true) => Op::Ge,
                };
                i += usize::from(eq);
                out.push((start, Tok::Op(op)));
            }
            b'"' | b'\'' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "a string that does not end")),
                        Some(&q) if q == c => break,
                        Some(b'\\') => {
                            let next = *b
                                .get(i + 1)
                                .ok_or_else(|| err(i, "a string that does not end"))?;
                            s.push(next);
                            i += 2;
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                let s =
                    String::from_utf8(s).map_err(|_| err(start, "a string that is not UTF-8"))?;
                out.push((start, Tok::Str(s)));
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let text = &q[i..j];
                let n = text
                    .parse()
                    .map_err(|_| err(start, "a number that does not fit 64 bits"))?;
                out.push((start, Tok::Int(n)));
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric()
                        || b[j] == b'_'
                        || b[j] == b'-'
                        || b[j] == b'.')
                {
                    j += 1;
                }
                out.push((start, Tok::Word(q[i..j].to_string())));
                i = j;
                continue;
            }
            _ => return Err(err(start, &format!("unexpected character '{}'", c as char))),
        }
        i += 1;
    }
    Ok(out)
}

/// Every call of a query, in order (a body may hold several).
pub fn parse(q: &str) -> Result<Vec<Call>, SyntaxError> {
    let toks = tokens(q)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: q.len(),
    };
    let mut calls = Vec::new();
    while p.at < p.toks.len() {
        calls.push(p.call()?);
    }
    if calls.is_empty() {
        return Err(SyntaxError {
            at: 0,
            message: "an empty query; expected a call such as Count(Row(netsrc=\"10.0.0.1\"))"
                .into(),
        });
    }
    Ok(calls)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self, k: usize) -> Option<&(usize, Tok)> {
        self.toks.get(self.at + k)
    }

    fn expected(&self, what: &str) -> SyntaxError {
        let at = self.peek(0).map_or(self.end, |t| t.0);
        SyntaxError {
            at,
            message: format!("expected {what}, found {}", describe(self.peek(0))),
        }
    }

    fn call(&mut self) -> Result<Call, SyntaxError> {
        let Some((at, Tok::Word(name))) = self.peek(0).cloned() else {
            return Err(self.expected("a call name"));
        };
        self.at += 1;
        if !matches!(self.peek(0), Some((_, Tok::Open))) {
            return Err(self.expected("'('"));
        }
        self.at += 1;
        let mut args = Vec::new();
        if matches!(self.peek(0), Some((_, Tok::Close))) {
            self.at += 1;
            return Ok(Call { name, args, at });
        }
        loop {
            args.push(self.arg()?);
            match self.peek(0) {
                Some((_, Tok::Comma)) => self.at += 1,
                Some((_, Tok::Close)) => {
                    self.at += 1;
                    return Ok(Call { name, args, at });
                }
                _ => return Err(self.expected("',' or ')'")),
            }
        }
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        let v = match self.peek(0) {
            Some((_, Tok::Str(s))) => Value::Str(s.clone()),
            Some((_, Tok::Int(i))) => Value::Int(*i),
            Some((_, Tok::Word(w))) => Value::Word(w.clone()),
            _ => return Err(self.expected("a value")),
        };
        self.at += 1;
        Ok(v)
    }

    fn int(&mut self) -> Result<i64, SyntaxError> {
        match self.peek(0) {
            Some((_, Tok::Int(i))) => {
                let i = *i;
                self.at += 1;
                Ok(i)
            }
            _ => Err(self.expected("an integer")),
        }
    }

    fn arg(&mut self) -> Result<Arg, SyntaxError> {
        match (self.peek(0).cloned(), self.peek(1).cloned()) {
            (Some((_, Tok::Word(_))), Some((_, Tok::Open))) => Ok(Arg::Call(self.call()?)),
            (Some((_, Tok::Word(w))), Some((_, Tok::Assign))) => {
                self.at += 2;
                Ok(Arg::Named(w, self.value()?))
            }
            (Some((_, Tok::Word(w))), Some((_, Tok::Op(op)))) => {
                self.at += 2;
                Ok(Arg::Cond(w, vec![(op, self.int()?)]))
            }
            // `low OP field OP high`
            (Some((_, Tok::Int(low))), Some((_, Tok::Op(op1)))) => {
                self.at += 2;
                let Some((_, Tok::Word(field))) = self.peek(0).cloned() else {
                    return Err(self.expected("a field name"));
                };
                self.at += 1;
                let Some((_, Tok::Op(op2))) = self.peek(0).cloned() else {
                    return Err(self.expected("a comparison"));
                };
                self.at += 1;
                let high = self.int()?;
                // `low < field` is `field > low`.
                let flipped = match op1 {
                    Op::Lt => Op::Gt,
                    Op::Le => Op::Ge,
                    Op::Gt => Op::Lt,
                    Op::Ge => Op::Le,
                    other => other,
                };
                Ok(Arg::Cond(field, vec![(flipped, low), (op2, high)]))
            }
            _ => Ok(Arg::Value(self.value()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pilosa_0_and_1_forms() {
        let calls = parse(
            "Count(Intersect(Row(netsrc=\"10.0.0.1\"), Row(tcp=SYN))) \
             TopN(frame=http-hostname, n=3) Row(1000 <= length < 1500)",
        )
        .unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].name, "Count");
        let Arg::Call(inner) = &calls[0].args[0] else {
            panic!()
        };
        assert_eq!(inner.args.len(), 2);
        assert_eq!(
            calls[1].args[0],
            Arg::Named("frame".into(), Value::Word("http-hostname".into()))
        );
        assert_eq!(
            calls[2].args[0],
            Arg::Cond("length".into(), vec![(Op::Ge, 1000), (Op::Lt, 1500)])
        );
    }

    #[test]
    fn errors_name_the_place_and_what_was_expected() {
        for (q, at, words) in [
            (
                "Count(Row(netsrc=\"x\")",
                21,
                "expected ',' or ')', found the end",
            ),
            ("Count Row", 6, "expected '('"),
            ("Row(netsrc=)", 11, "expected a value"),
            ("Row(length > x)", 13, "expected an integer"),
            ("Row(netsrc=\"x)", 11, "a string that does not end"),
            ("", 0, "an empty query"),
            ("Row(a=1) ;", 9, "unexpected character ';'"),
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.at, at, "{q}: {e}");
            assert!(e.message.contains(words), "{q}: {e}");
        }
    }
}
