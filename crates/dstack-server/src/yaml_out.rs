//! Writing YAML the way dstack does (`yaml.dump(..., sort_keys=False)`): block mappings and
//! lists, keys in order, scalars plain when they read back as the same string.

use dstack_core::yaml::Value as YamlValue;
use serde_json::Value;

/// Dumps a JSON value as a YAML document. `null` values are left out, as dstack's
/// `exclude_none` does.
pub fn dump(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut first = true;
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        if !first || indent > 0 {
            out.push_str(&" ".repeat(indent));
        }
        // The first key of a mapping inside a list item sits after "- ".
        first = false;
        out.push_str(&string(key));
        out.push(':');
        write_value(out, value, indent, true);
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() && map.values().any(|v| !v.is_null()) => {
                out.push(' ');
                write_mapping_in_item(out, map, indent + 2);
            }
            _ => write_value(out, item, indent, false),
        }
    }
}

fn write_mapping_in_item(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut first = true;
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        if !first {
            out.push_str(&" ".repeat(indent));
        }
        first = false;
        out.push_str(&string(key));
        out.push(':');
        write_value(out, value, indent, true);
    }
}

/// Writes what follows `key:` or `-`.
fn write_value(out: &mut String, value: &Value, indent: usize, in_mapping: bool) {
    match value {
        Value::Object(map) if map.values().any(|v| !v.is_null()) => {
            out.push('\n');
            write_mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            // PyYAML does not indent a list under a mapping key.
            write_sequence(out, items, if in_mapping { indent } else { indent + 2 });
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar_value => {
            out.push(' ');
            out.push_str(&scalar(scalar_value));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        _ => String::new(),
    }
}

/// A string scalar: plain when that reads back as the same string, else quoted.
fn string(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars().all(|c| !c.is_control())
        && matches!(dstack_core::yaml::node::resolve_plain(s), YamlValue::String(_));
    if plain_ok {
        return s.to_owned();
    }
    if !s.contains('\n') && s.chars().all(|c| !c.is_control()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut quoted = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_like_dstacks_get_yaml() {
        let value = json!({"type": "runpod", "regions": null, "community_cloud": true,
            "creds": {"type": "api_key", "api_key": "GOOD-runpod-proj3-v2"}});
        assert_eq!(
            dump(&value),
            "type: runpod\ncommunity_cloud: true\ncreds:\n  type: api_key\n  api_key: GOOD-runpod-proj3-v2\n"
        );
        let value = json!({"type": "vastai", "regions": [], "creds": {"api_key": "k"}});
        assert_eq!(dump(&value), "type: vastai\nregions: []\ncreds:\n  api_key: k\n");
    }

    #[test]
    fn lists_and_nested_mappings() {
        let value = json!({"projects": [{"name": "main", "backends": [{"type": "aws", "regions": ["us-east-1", "eu-west-1"]}]}]});
        assert_eq!(
            dump(&value),
            "projects:\n- name: main\n  backends:\n  - type: aws\n    regions:\n    - us-east-1\n    - eu-west-1\n"
        );
    }

    #[test]
    fn strings_that_would_change_meaning_are_quoted_and_read_back() {
        for s in [
            "yes",
            "123",
            "a: b",
            "",
            "- x",
            "null",
            "multi\nline \"q\"",
            "it's",
            "1.5",
            "2024-01-01",
        ] {
            let text = dump(&json!({"k": s}));
            let parsed = dstack_core::yaml::node::parse(&text).unwrap();
            assert_eq!(
                parsed.root.get("k").unwrap().value,
                YamlValue::String(s.to_owned()),
                "{text}"
            );
        }
    }
}
