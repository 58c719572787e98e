//! A serde `Deserializer` over [`Node`] trees that knows, for every value, its field path and
//! its place in the text.
//!
//! Why not deserialize straight from the YAML parser: serde buffers internally tagged enums
//! (`#[serde(tag = "type")]`) and loses every location inside them, and it stops at the first
//! error. Here:
//!
//! - **Tagged unions** go through `deserialize_enum`: on a mapping, the variant is the value
//!   of its `type` key and the variant's struct is read from the same mapping with `type`
//!   hidden, so errors inside a backend keep their line and column. Models opt in with
//!   [`crate::tagged_union!`]; this is the one way config models are read (YAML and JSON alike).
//! - **Unknown keys** are checked against serde's field list before the struct is visited: all
//!   of them are reported, each with the nearest valid key, not only the first.
//! - **Scalars** are coerced the way pydantic (lax mode, `coerce_numbers_to_str`) coerces
//!   them: numbers are accepted where a string is expected, `"yes"`/`1` where a boolean is,
//!   `"8"` where an integer is.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::diagnostic::{Diagnostic, Location, did_you_mean, one_of};
use super::node::{Node, Value, python_float_repr};

/// `deserialize_enum` name that asks for a variant chosen by the node's shape (`string`,
/// `mapping`, `list`) instead of a `type` key; see [`crate::shape_union!`].
pub const BY_SHAPE: &str = "$dstack:by-shape";

/// Collects the problems found while reading one document.
#[derive(Debug, Default)]
pub struct Collector {
    diagnostics: RefCell<Vec<Diagnostic>>,
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, diagnostic: Diagnostic) {
        self.diagnostics.borrow_mut().push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.borrow().iter().any(Diagnostic::is_error)
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics.into_inner()
    }

    /// Reads `T` from `node`. Hard errors are recorded and give `None`; problems that do not
    /// stop reading (unknown keys) are recorded and still give `Some`, so check
    /// [`Collector::has_errors`] before trusting the result.
    pub fn read<T: DeserializeOwned>(&self, node: &Node, path: &str) -> Option<T> {
        let de = NodeDeserializer { node, path: path.to_owned(), collector: self, hide: None };
        match T::deserialize(de) {
            Ok(value) => Some(value),
            Err(err) => {
                self.push(err.into_diagnostic(node.location, path));
                None
            }
        }
    }
}

/// Joins a field path and a key: `a.b` + `c` → `a.b.c`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Joins a field path and a list index: `a.b` + 2 → `a.b[2]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A deserialization error, located once it passes the node it concerns.
#[derive(Debug)]
pub struct Error {
    message: String,
    location: Option<Location>,
    path: Option<String>,
    missing_field: Option<&'static str>,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), location: None, path: None, missing_field: None }
    }

    fn into_diagnostic(self, fallback: Location, path: &str) -> Diagnostic {
        let path = self.path.unwrap_or_else(|| match self.missing_field {
            Some(field) => join(path, field),
            None => path.to_owned(),
        });
        Diagnostic::error(self.message, self.location.unwrap_or(fallback)).at_path(path)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        let mut err = Error::new(format!("missing required field `{field}`"));
        err.missing_field = Some(field);
        err
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::new(unknown_key_message(field, expected))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(format!("unknown value `{variant}`; expected one of: {}", one_of(expected)))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::new(format!("expected {exp}, found {unexp}"))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::new(format!("invalid value {unexp}: expected {exp}"))
    }
}

fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    let mut msg = format!("unknown field `{key}`");
    if let Some(best) = did_you_mean(key, expected.iter().copied()) {
        msg.push_str(&format!("; did you mean `{best}`?"));
    } else if expected.is_empty() {
        msg.push_str("; this section takes no fields");
    } else {
        msg.push_str(&format!("; valid fields are: {}", one_of(expected)));
    }
    msg
}

/// Deserializes one [`Node`]; see the module docs.
#[derive(Debug)]
pub struct NodeDeserializer<'a> {
    node: &'a Node,
    path: String,
    collector: &'a Collector,
    /// A key of this mapping to hide from the visitor: the `type` tag of a tagged union.
    hide: Option<&'static str>,
}

impl<'a> NodeDeserializer<'a> {
    fn child(&self, node: &'a Node, path: String) -> Self {
        Self { node, path, collector: self.collector, hide: None }
    }

    /// Gives `err` this node's place unless a deeper node already did.
    fn locate(&self, mut err: Error) -> Error {
        if err.location.is_none() {
            err.location = Some(self.node.location);
            err.path = Some(match err.missing_field {
                Some(field) => join(&self.path, field),
                None => self.path.clone(),
            });
        }
        err
    }

    fn expected(&self, what: &str) -> Error {
        self.locate(Error::new(format!("expected {what}, found {}", self.node.value.describe())))
    }

    fn pairs(&self) -> impl Iterator<Item = (String, &'a Node, &'a Node)> + 'a {
        let hide = self.hide;
        let pairs: &'a [(Node, Node)] = match &self.node.value {
            Value::Mapping(pairs) => pairs,
            _ => &[],
        };
        pairs.iter().filter_map(move |(k, v)| {
            let key = k.as_key()?;
            (Some(key.as_str()) != hide).then_some((key, k, v))
        })
    }

    fn integer(&self) -> Result<i128, Error> {
        let fail = || self.expected("an integer");
        match &self.node.value {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(i128::from(*b)),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Ok(*f as i128),
            Value::String(s) => s.trim().parse::<i128>().map_err(|_| fail()),
            _ => Err(fail()),
        }
    }

    fn float(&self) -> Result<f64, Error> {
        match &self.node.value {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            Value::String(s) => s.trim().parse::<f64>().map_err(|_| self.expected("a number")),
            _ => Err(self.expected("a number")),
        }
    }

    fn string(&self) -> Result<String, Error> {
        match &self.node.value {
            Value::String(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(python_float_repr(*f)),
            _ => Err(self.expected("a string")),
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let value = self.integer()?;
            let narrowed = <$ty>::try_from(value).map_err(|_| {
                self.locate(Error::new(format!("the number {value} is out of range")))
            })?;
            visitor.$visit(narrowed).map_err(|e| self.locate(e))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => visitor.visit_i128(*i),
            },
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) | Value::Timestamp(s) => visitor.visit_str(s),
            Value::Sequence(_) => return self.deserialize_seq(visitor),
            Value::Mapping(_) => return self.deserialize_map(visitor),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // pydantic's lax booleans.
        let value = match &self.node.value {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            Value::Float(f) if *f == 0.0 => Some(false),
            Value::Float(f) if *f == 1.0 => Some(true),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
                "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
                _ => None,
            },
            _ => None,
        };
        match value {
            Some(b) => visitor.visit_bool(b).map_err(|e| self.locate(e)),
            None => Err(self.expected("a boolean (true or false)")),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.float()?;
        visitor.visit_f32(value as f32).map_err(|e| self.locate(e))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.float()?;
        visitor.visit_f64(value).map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.string()?;
        visitor.visit_string(value).map_err(|e| self.locate(e))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.value == Value::Null {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => visitor.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.expected("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let Value::Sequence(items) = &self.node.value else {
            return Err(self.expected("a list"));
        };
        let access = Seq { parent: &self, items: items.iter().enumerate() };
        visitor.visit_seq(access).map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !matches!(self.node.value, Value::Mapping(_)) {
            return Err(self.expected("a mapping"));
        }
        let pairs: Vec<_> = self.pairs().collect();
        let access = Map { parent: &self, pairs: pairs.into_iter(), value: None };
        visitor.visit_map(access).map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if !matches!(self.node.value, Value::Mapping(_)) {
            return Err(self.expected("a mapping"));
        }
        // Report every unknown key now, then let the struct see only the known ones.
        let mut known = Vec::new();
        for (key, key_node, value) in self.pairs() {
            if fields.contains(&key.as_str()) {
                known.push((key, key_node, value));
            } else {
                self.collector.push(
                    Diagnostic::error(unknown_key_message(&key, fields), key_node.location)
                        .at_path(join(&self.path, &key)),
                );
            }
        }
        let access = Map { parent: &self, pairs: known.into_iter(), value: None };
        visitor.visit_map(access).map_err(|e| self.locate(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == BY_SHAPE {
            let shape = match &self.node.value {
                Value::Mapping(_) => "mapping",
                Value::Sequence(_) => "list",
                Value::Null => "null",
                _ => "string",
            };
            if !variants.contains(&shape) {
                let wanted: Vec<String> = variants.iter().map(|v| format!("a {v}")).collect();
                return Err(self.expected(&wanted.join(" or ")));
            }
            let inner = self.child(self.node, self.path.clone());
            return visitor
                .visit_enum(Enum { variant: shape.to_owned(), content: inner, unit_only: false })
                .map_err(|e| self.locate(e));
        }
        // `name` describes the union for messages ("backend type"); derived enums pass their
        // Rust name, which means nothing to a user.
        let noun = if name.contains(' ') { name } else { "value" };
        match &self.node.value {
            Value::String(tag) => {
                check_variant(tag, variants, noun).map_err(|e| self.locate(e))?;
                let inner = self.child(self.node, self.path.clone());
                visitor
                    .visit_enum(Enum { variant: tag.clone(), content: inner, unit_only: true })
                    .map_err(|e| self.locate(e))
            }
            Value::Mapping(_) => {
                let tag_path = join(&self.path, "type");
                let Some(tag_node) = self.node.get("type") else {
                    let mut err = Error::new(format!(
                        "missing required field `type`; expected one of: {}",
                        one_of(variants)
                    ));
                    err.location = Some(self.node.location);
                    err.path = Some(tag_path);
                    return Err(err);
                };
                let tag_de = self.child(tag_node, tag_path);
                let Value::String(tag) = &tag_node.value else {
                    return Err(tag_de.expected(&format!("one of {}", one_of(variants))));
                };
                check_variant(tag, variants, noun).map_err(|e| tag_de.locate(e))?;
                let mut inner = self.child(self.node, self.path.clone());
                inner.hide = Some("type");
                visitor
                    .visit_enum(Enum { variant: tag.clone(), content: inner, unit_only: false })
                    .map_err(|e| self.locate(e))
            }
            _ => Err(self.expected(&format!("one of {}", one_of(variants)))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

fn check_variant(tag: &str, variants: &[&str], noun: &str) -> Result<(), Error> {
    if variants.contains(&tag) {
        return Ok(());
    }
    let mut msg = format!("unknown {noun} `{tag}`");
    match did_you_mean(tag, variants.iter().copied()) {
        Some(best) => msg.push_str(&format!("; did you mean `{best}`? Valid values: ")),
        None => msg.push_str("; valid values: "),
    }
    msg.push_str(&one_of(variants));
    Err(Error::new(msg))
}

struct Seq<'p, 'a, I> {
    parent: &'p NodeDeserializer<'a>,
    items: I,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> SeqAccess<'de> for Seq<'_, 'a, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let child = self.parent.child(node, index(&self.parent.path, i));
                let locator = self.parent.child(node, child.path.clone());
                // Errors raised by the element's own checks, after the deserializer returned,
                // belong to the element too.
                seed.deserialize(child).map(Some).map_err(|e| locator.locate(e))
            }
        }
    }
}

struct Map<'p, 'a, I> {
    parent: &'p NodeDeserializer<'a>,
    pairs: I,
    value: Option<(String, &'a Node)>,
}

impl<'de, 'a, I: Iterator<Item = (String, &'a Node, &'a Node)>> MapAccess<'de> for Map<'_, 'a, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.pairs.next() {
            None => Ok(None),
            Some((key, _key_node, value)) => {
                let parsed = seed.deserialize(key.as_str().into_deserializer())?;
                self.value = Some((key, value));
                Ok(Some(parsed))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, node) =
            self.value.take().ok_or_else(|| Error::new("value requested before key"))?;
        let child = self.parent.child(node, join(&self.parent.path, &key));
        let locator = self.parent.child(node, child.path.clone());
        seed.deserialize(child).map_err(|e| locator.locate(e))
    }
}

struct Enum<'a> {
    variant: String,
    content: NodeDeserializer<'a>,
    /// The node was a bare string: only unit variants fit.
    unit_only: bool,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(self.variant.as_str().into_deserializer())?;
        Ok((variant, self))
    }
}

impl<'de, 'a> VariantAccess<'de> for Enum<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if !self.unit_only {
            // `{type: default}`: any other key is unknown.
            for (key, key_node, _) in self.content.pairs() {
                self.content.collector.push(
                    Diagnostic::error(unknown_key_message(&key, &[]), key_node.location)
                        .at_path(join(&self.content.path, &key)),
                );
            }
        }
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        if self.unit_only {
            return Err(self.content.expected("a mapping"));
        }
        seed.deserialize(self.content)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(self.content.expected("a mapping"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.unit_only {
            return Err(self.content.expected("a mapping"));
        }
        de::Deserializer::deserialize_struct(self.content, "", fields, visitor)
    }
}

/// Defines an enum whose variants are chosen by the `type` key of a mapping, the way dstack's
/// pydantic unions are discriminated, and that keeps error locations inside the variants.
///
/// Serialization puts `type` first, as dstack's `model_dump()` does. The JSON Schema is a
/// `oneOf` with a `const` `type` per variant.
#[macro_export]
macro_rules! tagged_union {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $noun:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(($inner:ty))? = $tag:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        #[schemars(deny_unknown_fields)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $tag)]
                $variant $(($inner))?,
            )*
        }

        impl $name {
            /// The `type` tags this union accepts.
            pub const TAGS: &'static [&'static str] = &[$($tag),*];

            /// The `type` tag of this value.
            pub fn tag(&self) -> &'static str {
                match self {
                    $( $name::$variant { .. } => $tag, )*
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct UnionVisitor;
                impl<'de> serde::de::Visitor<'de> for UnionVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a mapping with `type`")
                    }
                    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<$name, A::Error> {
                        use serde::de::VariantAccess as _;
                        let (tag, variant): (String, A::Variant) = data.variant()?;
                        match tag.as_str() {
                            $( $tag => $crate::tagged_union!(@read variant $name $variant $($inner)?), )*
                            other => Err(serde::de::Error::unknown_variant(other, $name::TAGS)),
                        }
                    }
                }
                deserializer.deserialize_enum($noun, $name::TAGS, UnionVisitor)
            }
        }
    };
    (@read $access:ident $name:ident $variant:ident $inner:ty) => {
        $access.newtype_variant::<$inner>().map($name::$variant)
    };
    (@read $access:ident $name:ident $variant:ident) => {
        $access.unit_variant().map(|()| $name::$variant)
    };
}

/// Defines an enum whose variant is chosen by the node's shape: a `string` or a `mapping`
/// (pydantic's `str | Model` unions), with located errors in both.
#[macro_export]
macro_rules! shape_union {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(#[$smeta:meta])* $svariant:ident(String) = "string",
            $(#[$mmeta:meta])* $mvariant:ident($minner:ty) = "mapping" $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
        #[serde(untagged)]
        $vis enum $name {
            $(#[$smeta])* $svariant(String),
            $(#[$mmeta])* $mvariant($minner),
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ShapeVisitor;
                impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a string or a mapping")
                    }
                    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<$name, A::Error> {
                        use serde::de::VariantAccess as _;
                        let (shape, variant): (String, A::Variant) = data.variant()?;
                        if shape == "string" {
                            variant.newtype_variant::<String>().map($name::$svariant)
                        } else {
                            variant.newtype_variant::<$minner>().map($name::$mvariant)
                        }
                    }
                }
                deserializer.deserialize_enum($crate::yaml::BY_SHAPE, &["string", "mapping"], ShapeVisitor)
            }
        }
    };
}
