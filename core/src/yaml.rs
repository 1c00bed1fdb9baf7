//! Marked YAML: a YAML stream parsed into a small tree whose every node knows its line and column.
//!
//! This module owns the boundary with the YAML library (saphyr 0.3 and its `MarkedYaml`). It turns
//! the library's tree into `Node`s that the scenario loader reads, so that the rest of the crate
//! never sees the library's types. It also owns the guards that keep a hostile input from freezing
//! a browser tab: a cap on the input's size and on the nesting depth, both checked before the
//! library builds anything deep.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

/// The largest YAML stream accepted, in bytes (32 MiB): a 10,000-Service manifest is about 5 MiB.
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// The deepest nesting of mappings and sequences accepted. Kubernetes objects need about 12.
pub const MAX_DEPTH: usize = 64;

/// Block lines indented (plus `- ` markers) beyond this are refused before parsing.
const MAX_BLOCK_PRESCAN: usize = 1000;

/// A position in a stream: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The value of a node. Scalars are resolved by the YAML 1.2 core schema; a quoted scalar is
/// always a string, so `port: "80"` is a `Str` and `port: 80` an `Int`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; a key that is not a string is written as its text.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

/// A stream that is not YAML, or too big or too deep to be read safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    /// The value under `key` in a mapping, with the key itself.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key's own position, for problems about a key rather than its value.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k.pos),
            _ => None,
        }
    }

    /// The string of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// How the value is named in a type error: `a string ("80")`, `a mapping`, ...
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => format!("a boolean ({b})"),
            Value::Int(i) => format!("an integer ({i})"),
            Value::Float(f) => format!("a number ({f})"),
            Value::Str(s) => {
                let shown: String = s.chars().take(40).collect();
                format!("a string ({shown:?})")
            }
            Value::Seq(_) => "a list".to_string(),
            Value::Map(_) => "a mapping".to_string(),
        }
    }
}

/// Parses a multi-document stream into one node per document (an empty document is `Null`).
pub fn parse_stream(text: &str) -> Result<Vec<Node>, YamlError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(YamlError {
            pos: Pos { line: 1, column: 1 },
            message: format!(
                "the input is {} bytes, over lbplay's limit of {} bytes (32 MiB)",
                text.len(),
                MAX_INPUT_BYTES
            ),
        });
    }
    // The depth is checked on the text first: the library's tree is dropped recursively, and a
    // stream of a million `[` would overflow the stack of a WebAssembly page before any later check.
    if let Some(pos) = too_deep(text) {
        return Err(YamlError { pos, message: format!("the YAML is nested more than {MAX_DEPTH} levels deep") });
    }
    let docs = MarkedYaml::load_from_str(text).map_err(|error| {
        let marker = error.marker();
        YamlError {
            pos: Pos { line: marker.line().max(1), column: marker.col() + 1 },
            message: format!("invalid YAML: {}", error.info()),
        }
    })?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in &docs {
        out.push(convert(doc, 0)?);
    }
    Ok(out)
}

/// A conservative bound on the nesting depth, line by line: the flow brackets still open, and the
/// indentation plus the `- ` markers of a block line (each level needs at least one of them). Flow
/// nesting is refused at the exact bracket; block lines only beyond `MAX_BLOCK_PRESCAN`, which
/// keeps the library's tree shallow enough to drop safely, and `convert` then reports the exact
/// node past `MAX_DEPTH`.
fn too_deep(text: &str) -> Option<Pos> {
    let limit = MAX_BLOCK_PRESCAN;
    let mut flow: usize = 0;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let dashes = rest.split("- ").take_while(|part| part.trim().is_empty()).count();
        let mut in_single = false;
        let mut in_double = false;
        for (column, ch) in line.chars().enumerate() {
            match ch {
                '\'' if !in_double => in_single = !in_single,
                '"' if !in_single => in_double = !in_double,
                '#' if !in_single && !in_double => break,
                '[' | '{' if !in_single && !in_double => {
                    flow += 1;
                    if flow > MAX_DEPTH {
                        return Some(Pos { line: index + 1, column: column + 1 });
                    }
                }
                ']' | '}' if !in_single && !in_double => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        if indent + dashes > limit {
            return Some(Pos { line: index + 1, column: indent + 1 });
        }
    }
    None
}

fn pos_of(node: &MarkedYaml<'_>) -> Pos {
    Pos { line: node.span.start.line().max(1), column: node.span.start.col() + 1 }
}

fn convert(node: &MarkedYaml<'_>, depth: usize) -> Result<Node, YamlError> {
    let pos = pos_of(node);
    if depth > MAX_DEPTH {
        return Err(YamlError { pos, message: format!("the YAML is nested more than {MAX_DEPTH} levels deep") });
    }
    let value = match &node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Representation(text, _, _) => Value::Str(text.to_string()),
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(convert(item, depth + 1)?);
            }
            Value::Seq(out)
        }
        YamlData::Mapping(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let name = match &key.data {
                    YamlData::Value(Scalar::String(text)) => text.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                    YamlData::Value(Scalar::Null) => "null".to_string(),
                    _ => {
                        return Err(YamlError {
                            pos: pos_of(key),
                            message: "a mapping key must be a plain value, not a list or a mapping".to_string(),
                        });
                    }
                };
                out.push((Key { pos: pos_of(key), name }, convert(value, depth + 1)?));
            }
            Value::Map(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, depth + 1),
        YamlData::Alias(_) => {
            return Err(YamlError { pos, message: "YAML aliases (`*name`) are not supported".to_string() });
        }
        YamlData::BadValue => {
            return Err(YamlError { pos, message: "invalid YAML: a value does not match its tag".to_string() });
        }
    };
    Ok(Node { pos, value })
}

fn scalar_value(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(text) => Value::Str(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_quoted_numbers_are_strings() {
        let docs = parse_stream("a: 1\nb:\n  c: \"80\"\n---\n---\nx: [1, 2]\n").unwrap();
        assert_eq!(docs.len(), 3);
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.get("c").unwrap().value, Value::Str("80".into()));
        assert_eq!(b.get("c").unwrap().pos, Pos { line: 3, column: 6 });
        assert_eq!(b.key_pos("c"), Some(Pos { line: 3, column: 3 }));
        assert!(docs[1].is_null());
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let text = "[".repeat(100_000);
        let error = parse_stream(&text).unwrap_err();
        assert_eq!(error.message, "the YAML is nested more than 64 levels deep");
    }
}
