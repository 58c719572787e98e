//! pydantic's lax-mode readers over JSON values, with its error types and messages: each
//! reader records its errors and returns `None` on failure, so that one pass reports every
//! error of a spec, as pydantic does.

use serde_json::{Map, Value};

use super::FieldError;

pub(crate) type Loc = Vec<Value>;

static NULL: Value = Value::Null;

/// `loc` with `key` after it.
pub(crate) fn at(loc: &[Value], key: impl Into<Value>) -> Loc {
    let mut out = loc.to_vec();
    out.push(key.into());
    out
}

/// The value of `key`, `null` when it is missing (every optional field defaults to it).
pub(crate) fn get<'v>(map: &'v Map<String, Value>, key: &str) -> &'v Value {
    map.get(key).unwrap_or(&NULL)
}

/// pydantic's `Input should be 'a', 'b' or 'c'`.
pub(crate) fn expected(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => format!("Input should be {last}"),
        Some((last, rest)) => format!("Input should be {} or {last}", rest.join(", ")),
        None => "Input should be nothing".to_owned(),
    }
}

/// Python's `str()` of a value parsed from JSON, for messages that format the input.
pub(crate) fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a value parsed from JSON.
pub(crate) fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) if n.is_f64() => {
            crate::yaml::node::python_float_repr(n.as_f64().unwrap_or(f64::NAN))
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(python_repr).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!("{}: {}", python_repr(&Value::from(k.as_str())), python_repr(v))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `int()` of a string: surrounding whitespace, a sign, and `_` between digits.
pub(crate) fn python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && !digits.contains("__");
    if !well_formed {
        return None;
    }
    let value: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -value } else { value })
}

/// The errors of one read, in the order pydantic reports them.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, kind: &'static str, loc: Loc, msg: impl Into<String>, input: &Value) {
        self.0.push(FieldError { kind, loc, msg: msg.into(), input: input.clone() });
    }

    /// A `ValueError` raised by a validator: pydantic prefixes its text.
    pub fn value_error(&mut self, loc: Loc, msg: impl AsRef<str>, input: &Value) {
        self.add("value_error", loc, format!("Value error, {}", msg.as_ref()), input);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A model's fields: an object, else `model_type`.
    pub fn model<'v>(
        &mut self,
        loc: &[Value],
        value: &'v Value,
        model: &str,
    ) -> Option<&'v Map<String, Value>> {
        if let Value::Object(map) = value {
            return Some(map);
        }
        let msg = format!("Input should be a valid dictionary or instance of {model}");
        self.add("model_type", loc.to_vec(), msg, value);
        None
    }

    /// `extra="forbid"`: one error per unknown key.
    pub fn forbid_extra(&mut self, loc: &[Value], map: &Map<String, Value>, fields: &[&str]) {
        for (key, input) in map {
            if !fields.contains(&key.as_str()) {
                self.add(
                    "extra_forbidden",
                    at(loc, key.as_str()),
                    "Extra inputs are not permitted",
                    input,
                );
            }
        }
    }

    /// A required field that is missing.
    pub fn required<'v>(
        &mut self,
        loc: &[Value],
        map: &'v Map<String, Value>,
        key: &str,
    ) -> Option<&'v Value> {
        let value = map.get(key);
        if value.is_none() {
            self.add("missing", at(loc, key), "Field required", &Value::Object(map.clone()));
        }
        value
    }

    /// A `str` (numbers are turned into text: dstack sets `coerce_numbers_to_str`).
    pub fn string(&mut self, loc: Loc, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_f64() => {
                Some(crate::yaml::node::python_float_repr(n.as_f64().unwrap_or(f64::NAN)))
            }
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.add("string_type", loc, "Input should be a valid string", other);
                None
            }
        }
    }

    pub fn opt_string(&mut self, loc: Loc, value: &Value) -> Option<String> {
        if value.is_null() { None } else { self.string(loc, value) }
    }

    pub fn list<'v>(&mut self, loc: Loc, value: &'v Value) -> Option<&'v Vec<Value>> {
        if let Value::Array(items) = value {
            return Some(items);
        }
        self.add("list_type", loc, "Input should be a valid list", value);
        None
    }

    pub fn dict<'v>(&mut self, loc: Loc, value: &'v Value) -> Option<&'v Map<String, Value>> {
        if let Value::Object(map) = value {
            return Some(map);
        }
        self.add("dict_type", loc, "Input should be a valid dictionary", value);
        None
    }

    /// `Optional[List[str]]`.
    pub fn opt_string_list(&mut self, loc: Loc, value: &Value) -> Option<Vec<String>> {
        if value.is_null() {
            return None;
        }
        let items = self.list(loc.clone(), value)?;
        let before = self.0.len();
        let out: Vec<String> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.string(at(&loc, i), item))
            .collect();
        (self.0.len() == before).then_some(out)
    }

    /// A `bool` in lax mode (`1`, `"yes"`, `"off"`…).
    pub fn bool(&mut self, loc: Loc, value: &Value) -> Option<bool> {
        match value {
            Value::Bool(b) => return Some(*b),
            Value::Number(n) if n.as_f64() == Some(0.0) => return Some(false),
            Value::Number(n) if n.as_f64() == Some(1.0) => return Some(true),
            Value::String(s) => {
                match s.trim().to_lowercase().as_str() {
                    "0" | "off" | "f" | "false" | "n" | "no" => return Some(false),
                    "1" | "on" | "t" | "true" | "y" | "yes" => return Some(true),
                    _ => {}
                }
                let msg = "Input should be a valid boolean, unable to interpret input";
                self.add("bool_parsing", loc, msg, value);
                return None;
            }
            _ => {}
        }
        self.add("bool_type", loc, "Input should be a valid boolean", value);
        None
    }

    /// An `int` in lax mode: `2`, `2.0`, `"2"`, `" +2 "`, `true`.
    pub fn int(&mut self, loc: Loc, value: &Value) -> Option<i64> {
        match value {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Some(i);
                }
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.0e18 {
                    return Some(f as i64);
                }
                let msg = "Input should be a valid integer, got a number with a fractional part";
                self.add("int_from_float", loc, msg, value);
                None
            }
            Value::String(s) => {
                let parsed = python_int(s).or_else(|| {
                    let f: f64 = s.trim().parse().ok()?;
                    (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
                });
                if parsed.is_none() {
                    let msg =
                        "Input should be a valid integer, unable to parse string as an integer";
                    self.add("int_parsing", loc, msg, value);
                }
                parsed
            }
            other => {
                self.add("int_type", loc, "Input should be a valid integer", other);
                None
            }
        }
    }

    /// A `float` in lax mode: `2`, `2.5`, `"2.5"`.
    pub fn float(&mut self, loc: Loc, value: &Value) -> Option<f64> {
        match value {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Number(n) => n.as_f64(),
            Value::String(s) => {
                let parsed = s.trim().replace('_', "").parse::<f64>().ok();
                if parsed.is_none() {
                    let msg = "Input should be a valid number, unable to parse string as a number";
                    self.add("float_parsing", loc, msg, value);
                }
                parsed
            }
            other => {
                self.add("float_type", loc, "Input should be a valid number", other);
                None
            }
        }
    }

    /// A value of a `str` enum (`type: enum`): exactly one of `allowed`.
    pub fn enum_value(&mut self, loc: Loc, value: &Value, allowed: &[&str]) -> Option<String> {
        match value.as_str() {
            Some(s) if allowed.contains(&s) => Some(s.to_owned()),
            _ => {
                self.add("enum", loc, expected(allowed), value);
                None
            }
        }
    }

    pub fn opt_enum(&mut self, loc: Loc, value: &Value, allowed: &[&str]) -> Option<String> {
        if value.is_null() { None } else { self.enum_value(loc, value, allowed) }
    }

    /// A `Literal[...]` field.
    pub fn literal(&mut self, loc: Loc, value: &Value, allowed: &[&str]) -> bool {
        if value.as_str().is_some_and(|s| allowed.contains(&s)) {
            return true;
        }
        self.add("literal_error", loc, expected(allowed), value);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_texts() {
        assert_eq!(python_repr(&json!([1, "a", null, true, 1.5])), "[1, 'a', None, True, 1.5]");
        assert_eq!(python_repr(&json!({"k": 2.0})), "{'k': 2.0}");
        assert_eq!(python_str(&json!("5x")), "5x");
        assert_eq!(expected(&["fleet"]), "Input should be 'fleet'");
        assert_eq!(expected(&["any", "cluster"]), "Input should be 'any' or 'cluster'");
        assert_eq!(
            expected(&["spot", "on-demand", "auto"]),
            "Input should be 'spot', 'on-demand' or 'auto'"
        );
    }

    #[test]
    fn python_int_accepts_what_int_accepts() {
        assert_eq!(python_int(" +2 "), Some(2));
        assert_eq!(python_int("-15"), Some(-15));
        assert_eq!(python_int("1_0"), Some(10));
        for bad in ["", "_1", "1_", "1__0", "1.5", "0x10", "- 1"] {
            assert_eq!(python_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn lax_ints_as_pydantic_reads_them() {
        let mut errors = Errors::default();
        assert_eq!(errors.int(vec![], &json!("2.0")), Some(2));
        assert_eq!(errors.int(vec![], &json!(2.0)), Some(2));
        assert_eq!(errors.int(vec![], &json!(true)), Some(1));
        assert!(errors.is_empty());
        assert_eq!(errors.int(vec![json!("min")], &json!(2.5)), None);
        assert_eq!(errors.int(vec![], &json!("a")), None);
        assert_eq!(errors.int(vec![], &json!([1])), None);
        let kinds: Vec<_> = errors.0.iter().map(|e| (e.kind, e.msg.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (
                    "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part"
                ),
                (
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer"
                ),
                ("int_type", "Input should be a valid integer"),
            ]
        );
        assert_eq!(errors.0[0].loc, [json!("min")]);
    }

    #[test]
    fn strings_take_numbers_but_not_booleans() {
        let mut errors = Errors::default();
        assert_eq!(errors.string(vec![], &json!(5)).as_deref(), Some("5"));
        assert_eq!(errors.string(vec![], &json!(2.0)).as_deref(), Some("2.0"));
        assert_eq!(errors.string(vec![], &json!(true)), None);
        assert_eq!(errors.0[0].msg, "Input should be a valid string");
    }
}
