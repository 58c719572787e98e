//! Loading `config.yml`: every rule dstack applies before its server would start, with all
//! errors of the file reported at once, each with line, column and field path.
//!
//! The root and the project level are walked by hand so that each project and each backend
//! is read on its own: one broken backend does not hide the errors of the next one.

use std::path::Path;

use super::backends::{BackendConfigWithCreds, BackendFileConfig};
use super::encryption::EncryptionConfig;
use super::is_valid_project_name;
use super::permissions::DefaultPermissions;
use crate::yaml::de::{Collector, index, join};
use crate::yaml::diagnostic::{Diagnostic, Location, did_you_mean, one_of};
use crate::yaml::node::{self, Node, Value};

/// Keys of the root mapping; kept equal to [`ServerConfig`]'s fields by a test.
const ROOT_FIELDS: &[&str] = &["projects", "encryption", "default_permissions", "plugins"];
/// Keys of a project; kept equal to [`ProjectConfig`]'s fields by a test.
const PROJECT_FIELDS: &[&str] = &["name", "backends"];

/// A config that passed every check, with backends in their API form (files read).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub projects: Vec<LoadedProject>,
    pub encryption: Option<EncryptionConfig>,
    pub default_permissions: Option<DefaultPermissions>,
    pub plugins: Option<Vec<String>>,
    /// Deprecations, duplicate keys, backends that the server will refuse when it checks them.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct LoadedProject {
    pub name: String,
    /// `None` when the project has no `backends` key; `Some(vec![])` for `backends: []`.
    pub backends: Option<Vec<LoadedBackend>>,
}

#[derive(Debug, Clone)]
pub struct LoadedBackend {
    pub config: BackendConfigWithCreds,
    /// Where the entry is, for messages about it later (credential check failures).
    pub path: String,
    pub location: Location,
}

/// A refused config: every error (and warning) found, with the text to point into.
#[derive(Debug, Clone)]
pub struct ConfigReport {
    /// How to name the file in messages.
    pub file: String,
    pub source: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigReport {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// All diagnostics rendered with source lines, then a one-line summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render(&self.file, self.source.as_deref()));
            out.push('\n');
        }
        let count = self.errors().count();
        out.push_str(&format!(
            "{} refused: {count} error{}\n",
            self.file,
            if count == 1 { "" } else { "s" }
        ));
        out
    }
}

impl std::fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for ConfigReport {}

/// Reads and checks a config file.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigReport> {
    let file = path.display().to_string();
    match crate::config::files::read_capped(path) {
        Ok(text) => load_str(&text, &file),
        Err(err) => Err(ConfigReport {
            file: file.clone(),
            source: None,
            diagnostics: vec![Diagnostic::error(
                format!("cannot read {file}: {err}"),
                Location::unknown(),
            )],
        }),
    }
}

/// Checks a config text; `file` names it in messages.
pub fn load_str(text: &str, file: &str) -> Result<LoadedConfig, ConfigReport> {
    let report = |diagnostics| ConfigReport {
        file: file.to_owned(),
        source: Some(text.to_owned()),
        diagnostics,
    };
    let parsed = node::parse(text).map_err(|d| report(vec![d]))?;
    let collector = Collector::new();
    for warning in parsed.warnings {
        collector.push(warning);
    }
    let loaded = read_root(&parsed.root, &collector);
    let mut diagnostics = collector.into_diagnostics();
    diagnostics.sort_by_key(|d| (d.location, d.is_error()));
    match loaded {
        Some(mut config) if !diagnostics.iter().any(Diagnostic::is_error) => {
            config.warnings = diagnostics;
            Ok(config)
        }
        _ => Err(report(diagnostics)),
    }
}

fn read_root(root: &Node, collector: &Collector) -> Option<LoadedConfig> {
    let Value::Mapping(_) = root.value else {
        let found = if root.value == Value::Null {
            "an empty document".to_owned()
        } else {
            root.value.describe()
        };
        collector.push(Diagnostic::error(
            format!("config.yml must be a mapping with a `projects` list, found {found}"),
            root.location,
        ));
        return None;
    };
    check_keys(root, "", ROOT_FIELDS, collector);
    let encryption = optional(root, "encryption", collector);
    let default_permissions = optional(root, "default_permissions", collector);
    let plugins = optional(root, "plugins", collector);
    let Some(projects_node) = root.get("projects") else {
        collector.push(
            Diagnostic::error("missing required field `projects` (it may be `[]`)", root.location)
                .at_path("projects"),
        );
        return None;
    };
    let projects = read_items(projects_node, "projects", collector, read_project)?;
    Some(LoadedConfig {
        projects,
        encryption: encryption?,
        default_permissions: default_permissions?,
        plugins: plugins?,
        warnings: Vec::new(),
    })
}

/// Reads an optional key: `Some(None)` when absent or null, `None` on error.
fn optional<T: serde::de::DeserializeOwned>(
    parent: &Node,
    key: &str,
    collector: &Collector,
) -> Option<Option<T>> {
    match parent.get(key) {
        None => Some(None),
        Some(node) => collector.read::<Option<T>>(node, key),
    }
}

fn check_keys(node: &Node, path: &str, fields: &[&str], collector: &Collector) {
    let Value::Mapping(pairs) = &node.value else { return };
    for (key, _) in pairs {
        let name = key.as_key().unwrap_or_default();
        if !fields.contains(&name.as_str()) {
            let mut msg = format!("unknown field `{name}`");
            match did_you_mean(&name, fields.iter().copied()) {
                Some(best) => msg.push_str(&format!("; did you mean `{best}`?")),
                None => msg.push_str(&format!("; valid fields are: {}", one_of(fields))),
            }
            collector.push(Diagnostic::error(msg, key.location).at_path(join(path, &name)));
        }
    }
}

/// Reads each item of a list on its own, so that all broken items are reported.
fn read_items<T>(
    node: &Node,
    path: &str,
    collector: &Collector,
    read: impl Fn(&Node, &str, &Collector) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Sequence(items) = &node.value else {
        collector.push(
            Diagnostic::error(
                format!("expected a list, found {}", node.value.describe()),
                node.location,
            )
            .at_path(path),
        );
        return None;
    };
    let results: Vec<Option<T>> =
        items.iter().enumerate().map(|(i, item)| read(item, &index(path, i), collector)).collect();
    results.into_iter().collect()
}

fn read_project(node: &Node, path: &str, collector: &Collector) -> Option<LoadedProject> {
    if !matches!(node.value, Value::Mapping(_)) {
        collector.push(
            Diagnostic::error(
                format!(
                    "expected a project (a mapping with `name`), found {}",
                    node.value.describe()
                ),
                node.location,
            )
            .at_path(path),
        );
        return None;
    }
    check_keys(node, path, PROJECT_FIELDS, collector);
    let name = match node.get("name") {
        None => {
            collector.push(
                Diagnostic::error("missing required field `name`", node.location)
                    .at_path(join(path, "name")),
            );
            None
        }
        Some(name_node) => {
            let name_path = join(path, "name");
            let name: Option<String> = collector.read(name_node, &name_path);
            if let Some(name) = &name
                && !is_valid_project_name(name)
            {
                collector.push(
                    Diagnostic::error(
                        format!(
                            "invalid project name `{name}`: use 1 to 50 letters, digits, \
                                 `-` or `_` (regex '^[a-zA-Z0-9-_]{{1,50}}$')"
                        ),
                        name_node.location,
                    )
                    .at_path(name_path),
                );
            }
            name
        }
    };
    let backends = match node.get("backends") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => read_items(n, &join(path, "backends"), collector, read_backend).map(Some),
    };
    Some(LoadedProject { name: name?, backends: backends? })
}

fn read_backend(node: &Node, path: &str, collector: &Collector) -> Option<LoadedBackend> {
    let file_config: BackendFileConfig = collector.read(node, path)?;
    let (config, warnings) = match file_config.resolve() {
        Ok(resolved) => resolved,
        Err(err) => {
            let field_path = err.field.iter().fold(path.to_owned(), |acc, seg| {
                if seg.starts_with('[') { format!("{acc}{seg}") } else { join(&acc, seg) }
            });
            collector
                .push(Diagnostic::error(err.message, node.locate(&err.field)).at_path(field_path));
            return None;
        }
    };
    for (field, warning) in warnings {
        let field_path = field.iter().fold(path.to_owned(), |acc, seg| join(&acc, seg));
        collector.push(Diagnostic::warning(warning, node.locate(&field)).at_path(field_path));
    }
    for (field, problem) in config.problems() {
        let field_path = field.iter().fold(path.to_owned(), |acc, seg| join(&acc, seg));
        collector.push(
            Diagnostic::warning(
                format!(
                    "{problem} (the server will refuse this backend when it applies the config)"
                ),
                node.locate(&field),
            )
            .at_path(field_path),
        );
    }
    Some(LoadedBackend { config, path: path.to_owned(), location: node.location })
}

/// Reads an API-form value from JSON with the same rules and messages as config.yml. Errors
/// carry field paths; JSON has no line numbers to give.
pub fn from_json<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, Vec<Diagnostic>> {
    read_whole(&Node::from_json(value))
}

/// Reads an API-form value from YAML text (the `*_yaml` API endpoints).
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Vec<Diagnostic>> {
    let parsed = node::parse(text).map_err(|d| vec![d])?;
    read_whole(&parsed.root)
}

fn read_whole<T: serde::de::DeserializeOwned>(root: &Node) -> Result<T, Vec<Diagnostic>> {
    let collector = Collector::new();
    let value = collector.read::<T>(root, "");
    match value {
        Some(value) if !collector.has_errors() => Ok(value),
        _ => Err(collector.into_diagnostics().into_iter().filter(Diagnostic::is_error).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProjectConfig, ServerConfig};

    #[test]
    fn hand_walked_keys_match_the_models() {
        let schema = schemars::schema_for!(ServerConfig);
        let root: Vec<&str> = schema
            .get("properties")
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(root, ROOT_FIELDS);
        let project = schemars::schema_for!(ProjectConfig);
        let fields: Vec<&str> = project
            .get("properties")
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(fields, PROJECT_FIELDS);
    }
}
