//! A small YAML document tree with line numbers, built from `saphyr-parser` events.
//!
//! pktvisor reads policies with yaml-cpp and decides the type of every scalar itself, from
//! its text (quoted or not). So this tree keeps scalars as their text and only tells apart
//! null, scalar, sequence and mapping, like a `YAML::Node`. JSON bodies parse the same way,
//! JSON being (for the documents pktvisor accepts) a subset of YAML 1.2.
//!
//! Like `YAML::Load`, only the first document of a stream is read. Aliases are expanded
//! (copies of the anchored node); merge keys (`<<`) are not special, as in yaml-cpp.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// A node of the document, with the 1-based line and column where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// `~`, `null`, an empty value: yaml-cpp's `NodeType::Null`.
    Null,
    /// Any other scalar, as its text.
    Scalar(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are kept, as yaml-cpp keeps them.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error, positioned (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub info: String,
}

impl From<ScanError> for SyntaxError {
    fn from(e: ScanError) -> Self {
        SyntaxError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            info: e.info().to_string(),
        }
    }
}

impl Node {
    fn new(kind: Kind, line: usize, col: usize) -> Node {
        Node { kind, line, col }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    pub fn is_seq(&self) -> bool {
        matches!(self.kind, Kind::Seq(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// yaml-cpp's `IsScalar()`: true for a non-null scalar only.
    pub fn is_scalar(&self) -> bool {
        matches!(self.kind, Kind::Scalar(_))
    }

    /// The text of a (non-null) scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// yaml-cpp's `as<std::string>()`: the text of a scalar, `"null"` for a null node,
    /// nothing for a collection (yaml-cpp throws "bad conversion").
    pub fn as_string(&self) -> Option<String> {
        match &self.kind {
            Kind::Scalar(s) => Some(s.clone()),
            Kind::Null => Some("null".to_string()),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    /// yaml-cpp's `node[key]` on a map: the value of the first entry whose key is the scalar
    /// `key`. `None` when this is not a map or has no such key (a "zombie" node).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// Like [`Node::get`], but returns the key node as well (for its line).
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.entries()
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(k, v)| (k, v))
    }
}

/// Parses the first document of `text` (syntax errors anywhere in that document are
/// reported, as yaml-cpp does; later documents are not read). An empty stream gives a null
/// node.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    while let Some(event) = parser.next_event() {
        let (event, span) = event?;
        let (line, col) = (span.start.line(), span.start.col() + 1);
        match event {
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => {}
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                if builder.root.is_some() {
                    break;
                }
            }
            Event::Alias(id) => {
                let node = builder.anchors.get(&id).cloned().map(|mut n| {
                    n.line = line;
                    n.col = col;
                    n
                });
                // An unknown alias is a syntax error for the scanner already; be lenient.
                builder.push(node.unwrap_or_else(|| Node::new(Kind::Null, line, col)), 0);
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let kind = if style == ScalarStyle::Plain && is_null(&text) {
                    Kind::Null
                } else {
                    Kind::Scalar(text.into_owned())
                };
                builder.push(Node::new(kind, line, col), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                builder
                    .stack
                    .push((Node::new(Kind::Seq(Vec::new()), line, col), anchor, None));
            }
            Event::MappingStart(anchor, _) => {
                builder
                    .stack
                    .push((Node::new(Kind::Map(Vec::new()), line, col), anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, anchor, _)) = builder.stack.pop() {
                    builder.push(node, anchor);
                }
            }
        }
    }
    Ok(builder.root.unwrap_or_else(|| Node::new(Kind::Null, 1, 1)))
}

/// yaml-cpp's plain-scalar nulls.
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

#[derive(Default)]
struct Builder {
    /// Open collections, with their anchor and, for maps, a key waiting for its value.
    stack: Vec<(Node, usize, Option<Node>)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((parent, _, pending_key)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Kind::Null | Kind::Scalar(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_text_and_lines() {
        let doc = parse("a: \"1.0\"\nb: 1.0\nc:\nd: ~\ne: 'null'\nf: [x, 2]\n").unwrap();
        assert_eq!(doc.get("a").unwrap().scalar(), Some("1.0"));
        assert_eq!(doc.get("b").unwrap().scalar(), Some("1.0"));
        assert!(doc.get("c").unwrap().is_null());
        assert!(doc.get("d").unwrap().is_null());
        assert_eq!(doc.get("e").unwrap().scalar(), Some("null"));
        let f = doc.get("f").unwrap();
        assert_eq!(f.items().len(), 2);
        assert_eq!(f.line, 6);
        assert_eq!(doc.get_entry("e").unwrap().0.line, 5);
        assert!(doc.get("zz").is_none());
    }

    #[test]
    fn first_document_only_and_aliases() {
        let doc = parse("a: &x {b: 1}\nc: *x\n---\nd: 2\n").unwrap();
        assert_eq!(doc.get("c").unwrap().get("b").unwrap().scalar(), Some("1"));
        assert!(doc.get("d").is_none());
        assert!(parse("").unwrap().is_null());
    }

    #[test]
    fn syntax_error_position() {
        let e = parse("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(!e.info.is_empty());
    }
}
