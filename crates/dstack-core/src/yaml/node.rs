//! A YAML document as a tree of nodes that remember where they came from.
//!
//! dstack reads `config.yml` with PyYAML's `safe_load`, which implements YAML 1.1: `yes`, `on`
//! and `off` are booleans, `0x1F` and `0o17`-style octals are integers, `1e3` (no dot) is a
//! string, a bare date is a date. We resolve plain scalars the same way so that a value means
//! here what it means to dstack, and we keep each node's line and column so that every error
//! can point at the text.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::diagnostic::{Diagnostic, Location};

/// How many nodes alias expansion may produce before the document is refused (guards against
/// "billion laughs" documents).
pub const MAX_EXPANDED_NODES: usize = 100_000;

/// How deeply sequences and mappings may nest, in every style (block and flow). A config is a
/// few levels deep; the limit keeps the recursive tree builder, the deserializer and `Drop`
/// far from the end of the stack whatever the input.
pub const MAX_DEPTH: usize = 64;

/// One node of a parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Where the node starts.
    pub location: Location,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    String(String),
    /// A YAML 1.1 timestamp such as `2024-05-01`; PyYAML turns it into a date, which no
    /// string field accepts.
    Timestamp(String),
    Sequence(Vec<Node>),
    /// Keys in document order; duplicate keys are already resolved (the last value wins,
    /// as in PyYAML, with a warning).
    Mapping(Vec<(Node, Node)>),
}

impl Value {
    /// A short description of the value's kind for error messages ("a list", "a number `5`").
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => format!("a boolean `{b}`"),
            Value::Int(i) => format!("a number `{i}`"),
            Value::Float(f) => format!("a number `{}`", python_float_repr(*f)),
            Value::String(s) => format!("a string {s:?}"),
            Value::Timestamp(t) => format!("a date `{t}`"),
            Value::Sequence(_) => "a list".to_owned(),
            Value::Mapping(_) => "a mapping".to_owned(),
        }
    }
}

impl Node {
    pub fn new(value: Value, location: Location) -> Self {
        Self { value, location }
    }

    /// The value of `key` if this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Mapping(pairs) => {
                pairs.iter().find(|(k, _)| k.as_key().as_deref() == Some(key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The node at a relative path of keys, as far as it exists; used to locate errors found
    /// after deserialization (for example an unreadable file named in `filename`).
    pub fn locate<S: AsRef<str>>(&self, path: &[S]) -> Location {
        let mut node = self;
        for segment in path {
            let segment = segment.as_ref();
            let child =
                match (&node.value, segment.strip_prefix('[').and_then(|s| s.strip_suffix(']'))) {
                    (Value::Sequence(items), Some(i)) => {
                        i.parse::<usize>().ok().and_then(|i| items.get(i))
                    }
                    _ => node.get(segment),
                };
            match child {
                Some(child) => node = child,
                None => break,
            }
        }
        node.location
    }

    /// The text of a scalar used as a mapping key. PyYAML keys may be numbers; pydantic turns
    /// them into strings, so do we.
    pub fn as_key(&self) -> Option<String> {
        match &self.value {
            Value::String(s) | Value::Timestamp(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(python_float_repr(*f)),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
            Value::Null => Some("None".to_owned()),
            Value::Sequence(_) | Value::Mapping(_) => None,
        }
    }

    /// Builds a node tree from JSON (the API form), with no text locations.
    pub fn from_json(value: &serde_json::Value) -> Node {
        let loc = Location::unknown();
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i.into()),
                None => match n.as_u64() {
                    Some(u) => Value::Int(u.into()),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Sequence(items.iter().map(Node::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Mapping(
                map.iter()
                    .map(|(k, v)| (Node::new(Value::String(k.clone()), loc), Node::from_json(v)))
                    .collect(),
            ),
        };
        Node::new(value, loc)
    }
}

impl Node {
    /// The node as JSON: dates become strings, non-string keys their Python spelling, and
    /// non-finite floats null (JSON has none).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => Json::from(i),
                Err(_) => Json::from(*i as f64),
            },
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) | Value::Timestamp(s) => Json::String(s.clone()),
            Value::Sequence(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Mapping(pairs) => Json::Object(
                pairs.iter().map(|(k, v)| (k.as_key().unwrap_or_default(), v.to_json())).collect(),
            ),
        }
    }
}

/// The result of parsing a YAML text: the root node (a `Null` node for an empty document) and
/// any warnings (duplicate keys).
#[derive(Debug)]
pub struct Parsed {
    pub root: Node,
    pub warnings: Vec<Diagnostic>,
}

/// Parses one YAML document. More than one document, a syntax error or an unsupported tag is
/// an error, as with PyYAML's `safe_load`.
pub fn parse(text: &str) -> Result<Parsed, Diagnostic> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        warnings: Vec::new(),
        nodes: 0,
        depth: 0,
    };
    builder.document()
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    warnings: Vec<Diagnostic>,
    nodes: usize,
    /// Collections open around the node being built.
    depth: usize,
}

fn location(span: &Span) -> Location {
    Location::new(span.start.line(), span.start.col() + 1)
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Diagnostic> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(err)) => {
                let marker = err.marker();
                let at = Location::new(marker.line(), marker.col() + 1);
                // The scanner has its own cap on flow nesting; say it the way we say ours.
                if err.info().contains("recursion limit exceeded") {
                    return Err(too_deep(at));
                }
                Err(Diagnostic::error(format!("invalid YAML: {}", err.info()), at))
            }
            None => {
                Err(Diagnostic::error("invalid YAML: unexpected end of input", Location::unknown()))
            }
        }
    }

    fn document(&mut self) -> Result<Parsed, Diagnostic> {
        let mut root: Option<Node> = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(Diagnostic::error(
                            "expected a single YAML document, but found another one (`---`); \
                             config.yml must contain exactly one document",
                            location(&span),
                        ));
                    }
                    let (event, span) = self.next()?;
                    if matches!(event, Event::DocumentEnd) {
                        root = Some(Node::new(Value::Null, location(&span)));
                    } else {
                        root = Some(self.node(event, span)?);
                    }
                }
                other => {
                    return Err(Diagnostic::error(
                        format!("invalid YAML: unexpected event {other:?}"),
                        location(&span),
                    ));
                }
            }
        }
        let root = root.unwrap_or_else(|| Node::new(Value::Null, Location::new(1, 1)));
        Ok(Parsed { root, warnings: std::mem::take(&mut self.warnings) })
    }

    fn count(&mut self, n: usize, at: Location) -> Result<(), Diagnostic> {
        self.nodes += n;
        if self.nodes > MAX_EXPANDED_NODES {
            return Err(Diagnostic::error(
                format!(
                    "the document expands to more than {MAX_EXPANDED_NODES} nodes \
                     (aliases referring to aliases?); refusing to read it"
                ),
                at,
            ));
        }
        Ok(())
    }

    /// Enters a sequence or mapping; refuses one nested deeper than [`MAX_DEPTH`].
    fn enter(&mut self, at: Location) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep(at));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, Diagnostic> {
        let at = location(&span);
        match event {
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Diagnostic::error("invalid YAML: alias to an unknown anchor", at)
                })?;
                let size = node_size(&node);
                self.count(size, at)?;
                // An anchored node may itself hold aliases: check its real depth here, or a
                // chain of aliases could nest without bound.
                self.depth += collection_depth(&node);
                self.enter(at)?;
                self.depth -= collection_depth(&node) + 1;
                Ok(node)
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, at)?;
                let value = resolve_scalar(&text, style, tag.as_deref(), at)?;
                let node = Node::new(value, at);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(anchor, tag) => {
                self.count(1, at)?;
                check_collection_tag(tag.as_deref(), "seq", at)?;
                self.enter(at)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                self.depth -= 1;
                let node = Node::new(Value::Sequence(items), at);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                self.count(1, at)?;
                check_collection_tag(tag.as_deref(), "map", at)?;
                self.enter(at)?;
                let mut pairs: Vec<(Node, Node)> = Vec::new();
                let mut merges: Vec<Node> = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let is_merge = matches!(&event, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(event, span)?;
                    let (event, span) = self.next()?;
                    let value = self.node(event, span)?;
                    if is_merge {
                        merges.push(value);
                        continue;
                    }
                    self.insert(&mut pairs, key, value)?;
                }
                for merged in merges {
                    merge_into(&mut pairs, merged)?;
                }
                self.depth -= 1;
                let node = Node::new(Value::Mapping(pairs), at);
                self.remember(anchor, &node);
                Ok(node)
            }
            other => {
                Err(Diagnostic::error(format!("invalid YAML: unexpected event {other:?}"), at))
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn insert(
        &mut self,
        pairs: &mut Vec<(Node, Node)>,
        key: Node,
        value: Node,
    ) -> Result<(), Diagnostic> {
        let Some(name) = key.as_key() else {
            return Err(Diagnostic::error(
                "a mapping key must be a plain value, not a list or a mapping",
                key.location,
            ));
        };
        if let Some(existing) = pairs.iter_mut().find(|(k, _)| k.as_key().as_deref() == Some(&name))
        {
            self.warnings.push(Diagnostic::warning(
                format!(
                    "duplicate key `{name}` (first at line {}); the last value is used",
                    existing.0.location.line
                ),
                key.location,
            ));
            existing.1 = value;
        } else {
            pairs.push((key, value));
        }
        Ok(())
    }
}

/// Applies a YAML merge key (`<<: *base` or `<<: [*a, *b]`): keys already present win, and
/// among merged mappings the first one wins, as in PyYAML.
fn merge_into(pairs: &mut Vec<(Node, Node)>, merged: Node) -> Result<(), Diagnostic> {
    let sources = match merged.value {
        Value::Mapping(_) => vec![merged],
        Value::Sequence(items) => items,
        _ => {
            return Err(Diagnostic::error(
                "a merge key `<<` expects a mapping or a list of mappings",
                merged.location,
            ));
        }
    };
    for source in sources {
        let Value::Mapping(source_pairs) = source.value else {
            return Err(Diagnostic::error(
                "a merge key `<<` expects a mapping or a list of mappings",
                source.location,
            ));
        };
        for (key, value) in source_pairs {
            let name = key.as_key();
            if !pairs.iter().any(|(k, _)| k.as_key() == name) {
                pairs.push((key, value));
            }
        }
    }
    Ok(())
}

fn node_size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Sequence(items) => items.iter().map(node_size).sum(),
        Value::Mapping(pairs) => pairs.iter().map(|(k, v)| node_size(k) + node_size(v)).sum(),
        _ => 0,
    }
}

fn too_deep(at: Location) -> Diagnostic {
    Diagnostic::error(
        format!(
            "lists and mappings are nested deeper than {MAX_DEPTH} levels; refusing to read \
             the document"
        ),
        at,
    )
}

/// How many sequences and mappings nest in `node` (0 for a scalar).
fn collection_depth(node: &Node) -> usize {
    match &node.value {
        Value::Sequence(items) => 1 + items.iter().map(collection_depth).max().unwrap_or(0),
        Value::Mapping(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| collection_depth(k).max(collection_depth(v)))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn is_core_tag(tag: &Tag) -> bool {
    tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:"
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, at: Location) -> Result<(), Diagnostic> {
    match tag {
        None => Ok(()),
        Some(t) if is_core_tag(t) && t.suffix == expected => Ok(()),
        Some(t) => Err(unsupported_tag(t, at)),
    }
}

fn unsupported_tag(tag: &Tag, at: Location) -> Diagnostic {
    Diagnostic::error(
        format!(
            "unsupported YAML tag `{}{}`; only the standard tags (!!str, !!int, !!float, \
             !!bool, !!null) are allowed",
            tag.handle, tag.suffix
        ),
        at,
    )
}

fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Location,
) -> Result<Value, Diagnostic> {
    if let Some(tag) = tag {
        if !is_core_tag(tag) {
            // A lone `!` means "non-specific": a string.
            if tag.handle == "!" && tag.suffix.is_empty() {
                return Ok(Value::String(text.to_owned()));
            }
            return Err(unsupported_tag(tag, at));
        }
        let bad = |what: &str| {
            Diagnostic::error(format!("`{text}` is not a valid {what} for its tag"), at)
        };
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "int" => parse_int(text).map(Value::Int).ok_or_else(|| bad("integer")),
            "float" => parse_float(text).map(Value::Float).ok_or_else(|| bad("float")),
            "bool" => parse_bool(text).map(Value::Bool).ok_or_else(|| bad("boolean")),
            "null" => Ok(Value::Null),
            "timestamp" => Ok(Value::Timestamp(text.to_owned())),
            _ => Err(unsupported_tag(tag, at)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

/// PyYAML's implicit resolvers (YAML 1.1), in their order of precedence.
pub fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    if looks_like_int(text)
        && let Some(i) = parse_int(text)
    {
        return Value::Int(i);
    }
    if looks_like_float(text)
        && let Some(f) = parse_float(text)
    {
        return Value::Float(f);
    }
    if looks_like_timestamp(text) {
        return Value::Timestamp(text.to_owned());
    }
    Value::String(text.to_owned())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn strip_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
/// [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
fn looks_like_int(text: &str) -> bool {
    let (_, body) = strip_sign(text);
    let all = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    if let Some(rest) = body.strip_prefix("0b") {
        return all(rest, |c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(rest) = body.strip_prefix("0x") {
        return all(rest, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if body == "0" {
        return true;
    }
    if let Some(rest) = body.strip_prefix('0') {
        return all(rest, |c| matches!(c, '0'..='7' | '_'));
    }
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or("");
    if !(head.starts_with(|c: char| matches!(c, '1'..='9'))
        && head.chars().all(|c| c.is_ascii_digit() || c == '_'))
    {
        return false;
    }
    parts.all(is_sexagesimal_digit_group)
}

fn is_sexagesimal_digit_group(part: &str) -> bool {
    let b = part.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

fn parse_int(text: &str) -> Option<i128> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, body) = strip_sign(&cleaned);
    let magnitude = if body == "0" {
        0
    } else if let Some(rest) = body.strip_prefix("0b") {
        i128::from_str_radix(rest, 2).ok()?
    } else if let Some(rest) = body.strip_prefix("0x") {
        i128::from_str_radix(rest, 16).ok()?
    } else if body.contains(':') {
        body.split(':').try_fold(0i128, |acc, part| {
            acc.checked_mul(60)?.checked_add(part.parse::<i128>().ok()?)
        })?
    } else if let Some(rest) = body.strip_prefix('0') {
        i128::from_str_radix(rest, 8).ok()?
    } else {
        body.parse::<i128>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)? |
/// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
fn looks_like_float(text: &str) -> bool {
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (signed, body) = match text.as_bytes().first() {
        Some(b'-' | b'+') => (true, &text[1..]),
        _ => (false, text),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let exponent_ok = |e: &str| {
        let mut chars = e.chars();
        matches!(chars.next(), Some('-' | '+'))
            && !chars.as_str().is_empty()
            && chars.as_str().chars().all(|c| c.is_ascii_digit())
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exponent
        && !exponent_ok(e)
    {
        return false;
    }
    let Some(dot) = mantissa.find('.') else { return false };
    let (int_part, frac) = (&mantissa[..dot], &mantissa[dot + 1..]);
    if !digits(frac) {
        return false;
    }
    if int_part.is_empty() {
        // `.5` is a float only without a sign and with a digit right after the dot.
        return !signed && frac.starts_with(|c: char| c.is_ascii_digit());
    }
    if int_part.contains(':') {
        if exponent.is_some() {
            return false;
        }
        let mut parts = int_part.split(':');
        let head = parts.next().unwrap_or("");
        return head.starts_with(|c: char| c.is_ascii_digit())
            && digits(head)
            && parts.all(is_sexagesimal_digit_group);
    }
    int_part.starts_with(|c: char| c.is_ascii_digit()) && digits(int_part)
}

fn parse_float(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect::<String>().to_lowercase();
    let (negative, body) = strip_sign(&cleaned);
    let sign = if negative { -1.0 } else { 1.0 };
    if body == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Some(f64::NAN);
    }
    if body.contains(':') {
        let mut value = 0.0;
        for part in body.split(':') {
            value = value * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * value);
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

fn looks_like_timestamp(text: &str) -> bool {
    // `YYYY-MM-DD` or `YYYY-M-D` followed by an optional time part; enough to tell a date
    // from an ordinary string the way PyYAML's resolver does.
    let b = text.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &text[5..];
    let mut parts = rest.splitn(2, '-');
    let month = parts.next().unwrap_or("");
    let Some(day_and_time) = parts.next() else { return false };
    let day: String = day_and_time.chars().take_while(char::is_ascii_digit).collect();
    let valid_len = |s: &str| (1..=2).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit());
    if !valid_len(month) || !valid_len(&day) {
        return false;
    }
    let time = &day_and_time[day.len()..];
    time.is_empty() || time.starts_with(['T', 't', ' ', '\t'])
}

/// Formats a float as Python's `repr` does, which is what pydantic's number-to-string
/// coercion produces (`1.0`, `1e+20`, `0.0001`, `1e-05`).
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. `1.5e-7`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // position of the decimal point within `digits`
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Value {
        parse(&format!("k: {text}\n")).unwrap().root.get("k").unwrap().value.clone()
    }

    #[test]
    fn nesting_is_bounded_in_every_style() {
        let deep_block = format!("regions:\n{}x\n", "- ".repeat(20_000));
        let deep_flow = format!("regions: {}x{}\n", "[".repeat(20_000), "]".repeat(20_000));
        let deep_mapping: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        for text in [deep_block, deep_flow, deep_mapping] {
            let err = parse(&text).unwrap_err();
            assert!(err.message.contains("nested deeper than 64 levels"), "{}", err.message);
            assert!(err.location.line >= 1, "located: {:?}", err.location);
        }
        // Just inside the limit is fine.
        let ok = format!("k: {}x{}\n", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn aliases_cannot_nest_past_the_limit() {
        // Each anchor holds the previous one 40 levels down: the builder sees 41 levels at
        // most, the tree would have 40 per step.
        let mut text = String::new();
        for i in 0..10 {
            let inner = if i == 0 { "x".to_owned() } else { format!("*a{}", i - 1) };
            text.push_str(&format!("k{i}: &a{i} {}{inner}{}\n", "[".repeat(40), "]".repeat(40)));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nested deeper than"), "{}", err.message);
    }

    #[test]
    fn plain_scalars_resolve_like_pyyaml() {
        assert_eq!(scalar("yes"), Value::Bool(true));
        assert_eq!(scalar("Off"), Value::Bool(false));
        assert_eq!(scalar("y"), Value::String("y".into()));
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar(""), Value::Null);
        assert_eq!(scalar("123456789012"), Value::Int(123_456_789_012));
        assert_eq!(scalar("0x1F"), Value::Int(31));
        assert_eq!(scalar("017"), Value::Int(15));
        assert_eq!(scalar("0b101"), Value::Int(5));
        assert_eq!(scalar("1_000"), Value::Int(1000));
        assert_eq!(scalar("190:20:30"), Value::Int(685_230));
        assert_eq!(scalar("1.5"), Value::Float(1.5));
        assert_eq!(scalar("1e3"), Value::String("1e3".into()));
        assert_eq!(scalar("1.0e+3"), Value::Float(1000.0));
        assert_eq!(scalar("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(scalar("2024-05-01"), Value::Timestamp("2024-05-01".into()));
        assert_eq!(scalar("'yes'"), Value::String("yes".into()));
        assert_eq!(scalar("!!str 12"), Value::String("12".into()));
        assert_eq!(scalar("us-east-1"), Value::String("us-east-1".into()));
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(1.0), "1.0");
        assert_eq!(python_float_repr(1.5), "1.5");
        assert_eq!(python_float_repr(1e20), "1e+20");
        assert_eq!(python_float_repr(0.0001), "0.0001");
        assert_eq!(python_float_repr(0.00001), "1e-05");
        assert_eq!(python_float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(python_float_repr(123456.0), "123456.0");
    }

    #[test]
    fn locations_are_one_based() {
        let parsed = parse("a:\n  b: 1\n").unwrap();
        let b = parsed.root.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.location.line, b.location.column), (2, 6));
    }

    #[test]
    fn duplicate_keys_warn_and_last_wins() {
        let parsed = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(parsed.root.get("a").unwrap().value, Value::Int(2));
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].message.contains("duplicate key `a`"));
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let parsed = parse("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n").unwrap();
        let c = parsed.root.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().value, Value::Int(1));
        assert_eq!(c.get("y").unwrap().value, Value::Int(3));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..6 {
            let prev = if i == 0 { "a".to_owned() } else { format!("a{}", i - 1) };
            doc.push_str(&format!("a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = parse(&doc).unwrap_err();
        assert!(err.message.contains("expands to more than"), "{}", err.message);
    }

    #[test]
    fn several_documents_are_refused() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.message.contains("single YAML document"));
        assert_eq!(err.location.line, 2);
    }

    #[test]
    fn custom_tags_are_refused() {
        let err = parse("a: !!python/object:os.system x\n").unwrap_err();
        assert!(err.message.contains("unsupported YAML tag"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"));
        assert!(err.location.line >= 1);
    }
}
