//! What JSON Schemas of the config models need beyond what schemars derives: the loader
//! coerces scalars as pydantic does, so a schema that claims to describe what is accepted
//! must be widened to match (the config.yml schema, and the API's OpenAPI document).

use serde_json::{Map, Value, json};

/// Widens scalar types the way dstack's models coerce them, so that the schema accepts every
/// config the server accepts: numbers where strings are expected (`owner: 123456789012`),
/// pydantic's lax booleans (`"yes"`, `1`) and integers written as strings (`"22"`).
pub fn widen_scalars(value: &mut Value) {
    match value {
        Value::Object(object) => {
            // Alternatives that already say which numbers they take (an AWS account ID) are
            // exact: widening their string member would admit numbers the loader refuses.
            let exact = object.get("anyOf").and_then(Value::as_array).is_some_and(|members| {
                members.iter().any(|m| matches!(m["type"].as_str(), Some("integer" | "number")))
            });
            for (key, child) in object.iter_mut() {
                if !(exact && key == "anyOf") {
                    widen_scalars(child);
                }
            }
            widen_one(object);
        }
        Value::Array(items) => items.iter_mut().for_each(widen_scalars),
        _ => {}
    }
}

fn widen_one(object: &mut Map<String, Value>) {
    if object.contains_key("const") || object.contains_key("enum") {
        return;
    }
    let types: Vec<String> = match object.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
        _ => return,
    };
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("string") && !has("number") {
        let mut widened = types.clone();
        widened.insert(widened.iter().position(|t| t == "string").unwrap() + 1, "number".into());
        object.insert("type".to_owned(), json!(widened));
        return;
    }
    let lax: Vec<Value> = if has("boolean") {
        vec![
            json!({"type": "boolean"}),
            json!({"enum": [0, 1]}),
            json!({"type": "string", "pattern": lax_bool_pattern()}),
        ]
    } else if has("integer") {
        // The loader reads integers into i64: numbers are bounded, and digit strings are
        // held to what fits (up to 18 digits, or 19 below 9·10^18).
        if object.get("format").and_then(Value::as_str) == Some("int64") {
            object.insert("minimum".to_owned(), json!(i64::MIN));
            object.insert("maximum".to_owned(), json!(i64::MAX));
        }
        vec![
            json!({"type": "integer"}),
            json!({"type": "boolean"}),
            json!({"type": "string", "pattern": r"^\s*[-+]?0*([0-9]{1,18}|[1-8][0-9]{18})\s*$"}),
        ]
    } else {
        return;
    };
    object.remove("type");
    let mut any_of = lax;
    if has("null") {
        any_of.push(json!({"type": "null"}));
    }
    object.insert("anyOf".to_owned(), Value::Array(any_of));
}

/// pydantic's accepted boolean strings, case-insensitively, as an ECMA-262 pattern.
pub fn lax_bool_pattern() -> String {
    let words = ["0", "1", "off", "on", "f", "t", "false", "true", "n", "y", "no", "yes"];
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}
