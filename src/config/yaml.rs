//! Location-aware YAML: field paths, a positioned node tree, and the parse-then-validate
//! pipeline shared by every kind of config.
//!
//! serde_yaml gives typed values but forgets positions once parsing succeeded, so semantic
//! errors found later (a zero window) could not say where they are. The document is
//! therefore also read with yaml-rust2's event parser into a small tree that keeps each
//! node's position, and a field path is mapped to a line and column by walking it.

use std::fmt;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

use super::error::{ConfigError, ConfigWarning, Result};

/// Deeper nesting than any config needs; bounded so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Path of a field from the document root, displayed as `collector.stages[2].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The path of the document root.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path extended by a mapping key.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    /// This path extended by a sequence index.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    fn from_serde(path: &serde_path_to_error::Path) -> Self {
        let segments = path
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => {
                    Some(Segment::Key(key.clone()))
                }
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        Self(segments)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML node with the 1-based position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) kind: NodeKind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// An alias or anything else the locator does not follow.
    Opaque,
}

/// A YAML syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

fn position(mark: &Marker) -> (usize, usize) {
    // yaml-rust2 counts lines from 1 and columns from 0.
    (mark.line().max(1), mark.col() + 1)
}

impl From<ScanError> for SyntaxError {
    fn from(error: ScanError) -> Self {
        let (line, column) = position(error.marker());
        Self {
            line,
            column,
            message: error.info().to_owned(),
        }
    }
}

/// Reads the first document of `text` into a positioned tree; `None` for an empty stream.
pub(crate) fn parse_tree(text: &str) -> std::result::Result<Option<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token()?;
        match event {
            Event::StreamEnd => return Ok(None),
            Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
            Event::DocumentEnd => return Ok(None),
            event => return read_node(&mut parser, event, mark, 0).map(Some),
        }
    }
}

fn read_node(
    parser: &mut Parser<std::str::Chars<'_>>,
    event: Event,
    mark: Marker,
    depth: usize,
) -> std::result::Result<Node, SyntaxError> {
    let (line, column) = position(&mark);
    if depth > MAX_DEPTH {
        return Err(SyntaxError {
            line,
            column,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
        });
    }
    let kind = match event {
        Event::Scalar(value, ..) => NodeKind::Scalar(value),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                let (event, mark) = parser.next_token()?;
                if event == Event::SequenceEnd {
                    break;
                }
                items.push(read_node(parser, event, mark, depth + 1)?);
            }
            NodeKind::Seq(items)
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            loop {
                let (event, mark) = parser.next_token()?;
                if event == Event::MappingEnd {
                    break;
                }
                let key = read_node(parser, event, mark, depth + 1)?;
                let (event, mark) = parser.next_token()?;
                let value = read_node(parser, event, mark, depth + 1)?;
                entries.push((key, value));
            }
            NodeKind::Map(entries)
        }
        _ => NodeKind::Opaque,
    };
    // A block mapping's start mark lies after its first key; the key is where a reader
    // looks for a problem with the mapping as a whole (a missing field).
    let (line, column) = match &kind {
        NodeKind::Map(entries) => entries
            .first()
            .map_or((line, column), |(key, _)| (key.line, key.column)),
        _ => (line, column),
    };
    Ok(Node { line, column, kind })
}

impl Node {
    /// The scalar text, for scalar nodes.
    pub(crate) fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(value) => Some(value),
            _ => None,
        }
    }

    /// The keys of a mapping node that are scalars, with their nodes.
    pub(crate) fn keys(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().map(|(key, _)| key).collect(),
            _ => Vec::new(),
        }
    }

    fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .rev() // serde_yaml rejects duplicates; if any, the last one is the live one
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path`, or the deepest node on the way when the path leaves the tree
    /// (a missing field is reported at its parent). With `key`, a final mapping key is
    /// located at the key rather than at its value (unknown fields).
    pub(crate) fn locate(&self, path: &FieldPath, key: bool) -> &Node {
        let mut node = self;
        let last = path.0.len().saturating_sub(1);
        for (i, segment) in path.0.iter().enumerate() {
            let next = match segment {
                Segment::Key(name) => node
                    .entry(name)
                    .map(|(k, v)| if key && i == last { k } else { v }),
                Segment::Index(index) => match &node.kind {
                    NodeKind::Seq(items) => items.get(*index),
                    _ => None,
                },
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }
}

/// A problem found while validating, before it is given a position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub(crate) field: FieldPath,
    pub(crate) value: String,
    pub(crate) message: String,
    /// Whether messages quote the value as written in the file (else `value` as given:
    /// a secret must not be repeated).
    pub(crate) quote_source: bool,
}

/// Collects validation errors and warnings in document order of discovery.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub(crate) errors: Vec<Issue>,
    pub(crate) warnings: Vec<Issue>,
}

impl Issue {
    fn new(field: FieldPath, value: impl fmt::Display, message: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            message: message.into(),
            quote_source: true,
        }
    }

    /// The value to show: as written at `scalar` unless this issue must not repeat it.
    fn shown(&self, scalar: Option<String>) -> String {
        match (self.quote_source, scalar) {
            (true, Some(written)) => written,
            _ => self.value.clone(),
        }
    }
}

impl Checker {
    /// Records an error about `field`, whose value is rendered as `value`.
    pub(crate) fn error(
        &mut self,
        field: FieldPath,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.errors.push(Issue::new(field, value, message));
    }

    /// Records an error about `field` whose value holds a secret: messages show `shown`
    /// (a redacted rendering), never the value as written.
    pub(crate) fn secret_error(
        &mut self,
        field: FieldPath,
        shown: impl fmt::Display,
        message: impl Into<String>,
    ) {
        let mut issue = Issue::new(field, shown, message);
        issue.quote_source = false;
        self.errors.push(issue);
    }

    /// Records a warning about `field`.
    pub(crate) fn warn(
        &mut self,
        field: FieldPath,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.warnings.push(Issue::new(field, value, message));
    }
}

/// A parsed document: the file name for messages and the positioned tree.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) file: String,
    pub(crate) tree: Option<Node>,
}

impl Document {
    /// Reads `text` as YAML, failing with a positioned syntax error.
    pub(crate) fn parse(file: &str, text: &str) -> Result<Self> {
        let tree = parse_tree(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        Ok(Self {
            file: file.to_owned(),
            tree,
        })
    }

    /// Line, column and scalar text of the node at `path` (1:1 for an empty document).
    fn place(&self, path: &FieldPath, key: bool) -> (usize, usize, Option<String>) {
        match &self.tree {
            Some(tree) => {
                let node = tree.locate(path, key);
                (node.line, node.column, node.scalar().map(str::to_owned))
            }
            None => (1, 1, None),
        }
    }

    /// Deserializes the document into `T`, turning serde errors into positioned ones.
    pub(crate) fn deserialize<T: DeserializeOwned>(&self, text: &str) -> Result<T> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let mut field = FieldPath::from_serde(error.path());
            let inner = error.into_inner();
            let message = inner.to_string();
            // serde_yaml appends " at line L column C"; the position is reported separately.
            let message = match message.rfind(" at line ") {
                Some(at) => message[..at].to_owned(),
                None => message,
            };
            // serde_yaml prefixes its own copy of the path ("collector.slo: unknown field").
            let message = match message.split_once(": ") {
                Some((prefix, rest))
                    if !prefix.contains(char::is_whitespace)
                        && field.to_string().starts_with(prefix) =>
                {
                    rest.to_owned()
                }
                _ => message,
            };
            let quoted = backticked(&message);
            let mut key = false;
            if let (Some(name), true) = (quoted, message.starts_with("unknown field")) {
                // Point at the key itself; depending on the serde path the key may already
                // be the last segment.
                if field.0.last() != Some(&Segment::Key(name.to_owned())) {
                    field = field.key(name);
                }
                key = true;
            } else if let (Some(variant), true) = (quoted, message.starts_with("unknown variant")) {
                // Tagged enums (`mode:`, `type:`) report at the mapping; descend to the tag.
                if let Some(tag) = self.tag_holding(&field, variant) {
                    field = field.key(&tag);
                }
            }
            let (line, column, value) = self.place(&field, key);
            let (line, column) = match (&self.tree, inner.location()) {
                // The tree could not reach the field (a flow the locator does not follow):
                // fall back on where serde_yaml stopped.
                (None, Some(location)) => (location.line(), location.column()),
                _ => (line, column),
            };
            let value = if key {
                quoted.unwrap_or_default().to_owned()
            } else {
                value.unwrap_or_default()
            };
            ConfigError::Parse {
                file: self.file.clone(),
                line,
                column,
                field: field.to_string(),
                value,
                message,
            }
        })
    }

    /// The key of the mapping at `path` whose scalar value is `value`.
    fn tag_holding(&self, path: &FieldPath, value: &str) -> Option<String> {
        let node = self.tree.as_ref()?.locate(path, false);
        match &node.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(_, v)| v.scalar() == Some(value))
                .and_then(|(k, _)| k.scalar().map(str::to_owned)),
            _ => None,
        }
    }

    /// The first error of `checker` as a positioned [`ConfigError::Invalid`].
    pub(crate) fn first_error(&self, checker: &Checker) -> Option<ConfigError> {
        let issue = checker.errors.first()?;
        let (line, column, scalar) = self.place(&issue.field, false);
        Some(ConfigError::Invalid {
            file: self.file.clone(),
            line,
            column,
            field: issue.field.to_string(),
            value: issue.shown(scalar),
            message: issue.message.clone(),
        })
    }

    /// The warnings of `checker`, positioned.
    pub(crate) fn warnings(&self, checker: &Checker) -> Vec<ConfigWarning> {
        checker
            .warnings
            .iter()
            .map(|issue| {
                let (line, column, scalar) = self.place(&issue.field, true);
                ConfigWarning {
                    file: self.file.clone(),
                    line,
                    column,
                    field: issue.field.to_string(),
                    value: issue.shown(scalar),
                    message: issue.message.clone(),
                }
            })
            .collect()
    }
}

/// The first text between backticks in `message`.
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a:\n  b:\n    - x: 1\n    - x: 2\n      y: [3, 4]\n";

    #[test]
    fn field_paths_display_like_serde_path_to_error() {
        let path = FieldPath::root().key("a").key("b").index(1).key("x");
        assert_eq!(path.to_string(), "a.b[1].x");
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }

    #[test]
    fn locate_finds_values_by_path_with_one_based_positions() {
        let tree = parse_tree(TEXT).unwrap().unwrap();
        let node = tree.locate(
            &FieldPath::root().key("a").key("b").index(1).key("x"),
            false,
        );
        assert_eq!((node.line, node.column, node.scalar()), (4, 10, Some("2")));
        let node = tree.locate(
            &FieldPath::root()
                .key("a")
                .key("b")
                .index(1)
                .key("y")
                .index(1),
            false,
        );
        assert_eq!((node.line, node.column, node.scalar()), (5, 14, Some("4")));
    }

    #[test]
    fn locate_points_at_the_key_when_asked() {
        let tree = parse_tree(TEXT).unwrap().unwrap();
        let node = tree.locate(&FieldPath::root().key("a").key("b").index(1).key("y"), true);
        assert_eq!((node.line, node.column, node.scalar()), (5, 7, Some("y")));
    }

    #[test]
    fn locate_stops_at_the_deepest_existing_node_for_missing_fields() {
        let tree = parse_tree(TEXT).unwrap().unwrap();
        let node = tree.locate(
            &FieldPath::root().key("a").key("b").index(0).key("missing"),
            false,
        );
        assert_eq!((node.line, node.column), (3, 7));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = parse_tree("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.line >= 1, "{error:?}");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn an_empty_stream_has_no_tree() {
        assert_eq!(parse_tree("").unwrap(), None);
        assert_eq!(parse_tree("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_stack_overflow() {
        let text = "[".repeat(10_000);
        assert!(parse_tree(&text).is_err());
    }

    #[test]
    fn backticked_extracts_the_first_quoted_name() {
        assert_eq!(
            backticked("unknown field `foo`, expected `bar`"),
            Some("foo")
        );
        assert_eq!(backticked("no quotes"), None);
    }
}
