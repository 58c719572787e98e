//! Renders `docs/reference/server-config.md` from the config.yml schema: every section and
//! field with its type, whether it is required, its default and its description, and
//! dstack's documented examples for each backend.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::schema::GENERATED_NOTE;

/// Examples that dstack's own models refuse (see tests/config-examples/INDEX.md); the
/// reference shows only examples that work.
const REFUSED_EXAMPLES: &[&str] = &["09-", "10-", "11-", "16-"];

pub fn render(schema: &Value, examples: &Path) -> String {
    let defs = schema["definitions"].as_object().cloned().unwrap_or_default();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "<!-- {GENERATED_NOTE} -->\n");
    let _ = writeln!(w, "# `config.yml` reference\n");
    let _ = writeln!(
        w,
        "The server reads `$DSTACK_SERVER_DIR/config.yml` (by default `~/.dstack/server/config.yml`) \
         at start-up; `DSTACK_SERVER_CONFIG_DISABLED` turns that off. Check a file offline with \
         `dstack-server config check [--file PATH]`. Editors can validate it with the JSON Schema \
         [`docs/schemas/server-config.schema.json`](../schemas/server-config.schema.json).\n"
    );
    let _ = writeln!(
        w,
        "Like dstack, the server refuses unknown keys, accepts numbers where a string is expected, \
         and accepts `yes`/`no`, `on`/`off`, `1`/`0` where a boolean is expected. YAML is read as \
         YAML 1.1, as dstack reads it: an unquoted `yes` is a boolean, so quote it where you mean \
         a string.\n"
    );
    let _ = writeln!(w, "## Root\n");
    fields_table(w, schema);
    let _ = writeln!(w, "## Backends\n");
    let _ = writeln!(
        w,
        "Each entry of `projects[].backends` is chosen by its `type`. Files named in an entry \
         (`filename`, `path`, `private_key_file`) are read on the server host when the config is \
         loaded; `~` is expanded.\n"
    );
    let variants = defs
        .get("BackendFileConfig")
        .and_then(|d| d["oneOf"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut tags = Vec::new();
    for variant in &variants {
        if let Some(tag) = variant["properties"]["type"]["const"].as_str() {
            tags.push(tag.to_owned());
        }
    }
    let _ = writeln!(
        w,
        "{}\n",
        tags.iter().map(|t| format!("[`{t}`](#type-{t})")).collect::<Vec<_>>().join(" · ")
    );
    for variant in &variants {
        let Some(tag) = variant["properties"]["type"]["const"].as_str() else { continue };
        let _ = writeln!(w, "<a id=\"type-{tag}\"></a>\n\n### `type: {tag}`\n");
        if let Some(description) = variant["description"].as_str() {
            let _ = writeln!(w, "{}\n", one_line(description));
        }
        fields_table(w, variant);
        for (name, text) in examples_of(examples, tag) {
            let _ = writeln!(w, "Example (`{name}`):\n\n```yaml\n{text}```\n");
        }
    }
    let _ = writeln!(w, "## Types\n");
    let mut names: Vec<&String> = defs.keys().filter(|n| *n != "BackendFileConfig").collect();
    names.sort();
    for name in names {
        let def = &defs[name];
        let _ = writeln!(w, "<a id=\"{}\"></a>\n\n### `{name}`\n", anchor(name));
        if let Some(description) = def["description"].as_str() {
            let _ = writeln!(w, "{}\n", one_line(description));
        }
        if let Some(one_of) = def["oneOf"].as_array() {
            for variant in one_of {
                let tag = variant["properties"]["type"]["const"]
                    .as_str()
                    .or_else(|| variant["const"].as_str())
                    .map(|t| format!("`{t}`"))
                    .unwrap_or_else(|| type_of(variant));
                let description = variant["description"].as_str().map(one_line).unwrap_or_default();
                let _ = writeln!(w, "- {tag}: {description}");
                let has_fields = variant["properties"]
                    .as_object()
                    .is_some_and(|p| p.keys().any(|k| k != "type"));
                if has_fields {
                    let _ = writeln!(w);
                    let mut table = String::new();
                    fields_table(&mut table, variant);
                    for line in table.lines() {
                        let _ = writeln!(w, "  {line}");
                    }
                }
            }
            let _ = writeln!(w);
        } else if def["properties"].is_object() {
            fields_table(w, def);
        } else {
            let _ = writeln!(w, "Type: {}\n", type_of(def));
        }
    }
    out
}

fn fields_table(w: &mut String, object: &Value) {
    let Some(properties) = object["properties"].as_object() else { return };
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(w, "| Field | Type | Required | Default | Description |");
    let _ = writeln!(w, "|---|---|---|---|---|");
    for (name, field) in properties {
        let required = if required.contains(&name.as_str()) { "yes" } else { "" };
        let default = match field.get("default") {
            Some(value) => format!("`{}`", serde_json::to_string(value).unwrap_or_default()),
            None => String::new(),
        };
        let mut description = field["description"].as_str().map(one_line).unwrap_or_default();
        if field["deprecated"] == Value::Bool(true) {
            description = format!("**Deprecated.** {description}");
        }
        let _ = writeln!(
            w,
            "| `{name}` | {} | {required} | {default} | {} |",
            type_of(field),
            description.replace('|', "\\|")
        );
    }
    let _ = writeln!(w);
}

/// A short type name for a schema node, with links to named types.
fn type_of(node: &Value) -> String {
    if let Some(reference) = node["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("[`{name}`](#{})", anchor(name));
    }
    if let Some([only]) = node["allOf"].as_array().map(Vec::as_slice) {
        return type_of(only);
    }
    if let Some(c) = node["const"].as_str() {
        return format!("`\"{c}\"`");
    }
    if let Some(values) = node["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| format!("`{}`", serde_json::to_string(v).unwrap_or_default()))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = node[key].as_array() {
            let kinds: Vec<String> =
                options.iter().filter(|o| o["type"] != "null").map(type_of).collect();
            // Widened scalars (lax booleans and integers) read as their base type.
            if let Some(first) = kinds.first()
                && matches!(first.as_str(), "boolean" | "integer")
            {
                return first.clone();
            }
            let mut unique = kinds;
            unique.dedup();
            return unique.join(" or ");
        }
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let base = types
        .iter()
        .copied()
        .find(|t| *t != "null" && *t != "number")
        .or_else(|| types.iter().copied().find(|t| *t != "null"));
    match base {
        Some("array") => {
            let max =
                node["maxItems"].as_u64().map(|m| format!(" (at most {m})")).unwrap_or_default();
            format!("list of {}{max}", type_of(&node["items"]))
        }
        Some("object") => match node.get("additionalProperties") {
            Some(values) if values.is_object() => format!("map of string to {}", type_of(values)),
            _ => "mapping".to_owned(),
        },
        Some("string") => match node["pattern"].as_str() {
            Some(pattern) => format!("string matching `{pattern}`"),
            None => "string".to_owned(),
        },
        Some(other) => other.to_owned(),
        None => "any".to_owned(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn anchor(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// dstack's documented full examples whose backend is `tag`, without their source comment.
fn examples_of(dir: &Path, tag: &str) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            if !name.ends_with(".yml") || REFUSED_EXAMPLES.iter().any(|p| name.starts_with(p)) {
                return None;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let body: String =
                text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
            let matches = body.lines().any(|l| {
                let l = l.trim_start().trim_start_matches("- ");
                l == format!("type: {tag}")
            });
            matches.then_some((name, body))
        })
        .collect()
}
