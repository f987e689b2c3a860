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
                // An unknown alias is a syntax error for the scanner already; be lenient.
                let size = builder
                    .anchors
                    .get(&id)
                    .map_or(Cost::NODE, |(_, size)| *size);
                // Counted before the copy is made: nested aliases ("billion laughs") grow
                // geometrically, and a few hundred bytes would otherwise take all memory.
                builder.grow(size, line, col)?;
                let node = match builder.anchors.get(&id) {
                    Some((n, _)) => Node {
                        line,
                        col,
                        ..n.clone()
                    },
                    None => Node::new(Kind::Null, line, col),
                };
                builder.push(node, 0, size);
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let kind = if style == ScalarStyle::Plain && is_null(&text) {
                    Kind::Null
                } else {
                    Kind::Scalar(text.into_owned())
                };
                let size = Cost {
                    nodes: 1,
                    bytes: match &kind {
                        Kind::Scalar(s) => s.len(),
                        _ => 0,
                    },
                };
                builder.grow(size, line, col)?;
                builder.push(Node::new(kind, line, col), anchor, size);
            }
            Event::SequenceStart(anchor, _) => {
                builder.open(Node::new(Kind::Seq(Vec::new()), line, col), anchor, col)?;
            }
            Event::MappingStart(anchor, _) => {
                builder.open(Node::new(Kind::Map(Vec::new()), line, col), anchor, col)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = builder.stack.pop() {
                    builder.push(open.node, open.anchor, open.size);
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

/// The most nodes a document may build, aliases expanded: a policy file has hundreds (the
/// most one file may define, 1 000 policies of one module, take ~20 000); this bounds what a hostile one ("billion laughs":
/// nested aliases multiplying at every level) can make the agent allocate to ~100 MB.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// The most scalar text a document may hold, aliases expanded: a 1 MB string named 2 000
/// times by aliases made a 1 MB file take 2 GB (nodes alone did not see it). A policy file of
/// 1 000 policies holds ~100 KB.
pub(crate) const MAX_TEXT_BYTES: usize = 16 << 20;

/// The deepest nesting of collections a document may have.
pub(crate) const MAX_DEPTH: usize = 64;

/// What a node and everything below it cost: nodes, and bytes of scalar text.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    nodes: usize,
    bytes: usize,
}

impl Cost {
    const NODE: Cost = Cost { nodes: 1, bytes: 0 };

    fn add(&mut self, other: Cost) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// A collection being read: its anchor, for maps a key waiting for its value, and the nodes
/// it holds so far (itself included), which an alias of it copies.
struct Open {
    node: Node,
    anchor: usize,
    pending_key: Option<Node>,
    size: Cost,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    /// Anchored nodes and their sizes in nodes.
    anchors: HashMap<usize, (Node, Cost)>,
    root: Option<Node>,
    /// Nodes and text built so far, aliases expanded.
    built: Cost,
}

impl Builder {
    /// Counts `more`; refuses the document past [`MAX_NODES`] or [`MAX_TEXT_BYTES`].
    fn grow(&mut self, more: Cost, line: usize, col: usize) -> Result<(), SyntaxError> {
        self.built.add(more);
        let info = if self.built.nodes > MAX_NODES {
            format!("the document expands to more than {MAX_NODES} nodes (aliases expanded)")
        } else if self.built.bytes > MAX_TEXT_BYTES {
            format!(
                "the document expands to more than {} MiB of text (aliases expanded)",
                MAX_TEXT_BYTES >> 20
            )
        } else {
            return Ok(());
        };
        Err(SyntaxError { line, col, info })
    }

    fn open(&mut self, node: Node, anchor: usize, col: usize) -> Result<(), SyntaxError> {
        let line = node.line;
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                line,
                col,
                info: format!("collections nested deeper than {MAX_DEPTH}"),
            });
        }
        self.grow(Cost::NODE, line, col)?;
        self.stack.push(Open {
            node,
            anchor,
            pending_key: None,
            size: Cost::NODE,
        });
        Ok(())
    }

    fn push(&mut self, node: Node, anchor: usize, size: Cost) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(open) => {
                open.size.add(size);
                match &mut open.node.kind {
                    Kind::Seq(items) => items.push(node),
                    Kind::Map(entries) => match open.pending_key.take() {
                        None => open.pending_key = Some(node),
                        Some(key) => entries.push((key, node)),
                    },
                    Kind::Null | Kind::Scalar(_) => {}
                }
            }
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

    /// A long string named many times by aliases is bounded by its bytes, not only its nodes.
    #[test]
    fn aliases_of_a_long_string_are_bounded() {
        let big = "x".repeat(1 << 20);
        let refs = vec!["*a"; 20].join(", ");
        let e = parse(&format!("a: &a \"{big}\"\nlist: [{refs}]\n")).unwrap_err();
        assert!(e.info.contains("more than 16 MiB of text"), "{e:?}");
        // The 15th alias (column 8 + 4 × 14): the string, the keys and 15 copies pass 16 MiB.
        assert_eq!((e.line, e.col), (2, 64));
        let refs = vec!["*a"; 14].join(", ");
        assert!(parse(&format!("a: &a \"{big}\"\nlist: [{refs}]\n")).is_ok());
    }

    /// "Billion laughs": ten levels of aliases each naming the previous one ten times would
    /// build 10^10 nodes; it is refused at the first alias past the budget, quickly and in
    /// little memory.
    #[test]
    fn nested_aliases_are_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            doc += &format!("a{i}: &a{i} [{refs}]\n");
        }
        let e = parse(&doc).unwrap_err();
        assert!(e.info.contains("expands to more than"), "{e:?}");
        // The same shape, three levels deep (1 111 nodes), is fine.
        let small: String = doc.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert!(parse(&small).is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "{}x{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let e = parse(&deep).unwrap_err();
        assert!(e.info.contains("nested deeper"), "{e:?}");
        let ok = format!("{}x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn syntax_error_position() {
        let e = parse("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(!e.info.is_empty());
    }
}
