//! `dstack-server config check`: the offline check of config.yml.

use std::io::Write;
use std::path::{Path, PathBuf};

use dstack_core::backend::Registry;
use dstack_core::config::{ConfigReport, LoadedConfig, load_file};
use dstack_core::yaml::{Diagnostic, Location};

/// What the check concluded.
#[derive(Debug)]
pub enum Outcome {
    /// The server would start with this file (possibly with warnings).
    Accepted { file: String, config: Box<LoadedConfig>, diagnostics: Vec<Diagnostic> },
    /// The server would refuse to start.
    Refused(ConfigReport),
    /// There is nothing to check; the reason says why (no file, or config disabled).
    Skipped { reason: String },
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Refused(_) => 1,
            _ => 0,
        }
    }
}

/// Checks `file`, or the server's own config.yml when `None`.
pub fn check(file: Option<&Path>, registry: &Registry) -> Outcome {
    let path: PathBuf = match file {
        Some(path) => path.to_owned(),
        None => {
            if crate::paths::config_disabled() {
                return Outcome::Skipped {
                    reason: "DSTACK_SERVER_CONFIG_DISABLED is set: the server ignores config.yml"
                        .to_owned(),
                };
            }
            let path = crate::paths::config_path();
            if !path.exists() {
                return Outcome::Skipped {
                    reason: format!(
                        "{} does not exist: the server would write a default one at start",
                        path.display()
                    ),
                };
            }
            path
        }
    };
    match load_file(&path) {
        Err(report) => Outcome::Refused(report),
        Ok(config) => {
            let mut diagnostics = config.warnings.clone();
            diagnostics.extend(availability_warnings(&config, registry));
            diagnostics.sort_by_key(|d| d.location);
            Outcome::Accepted {
                file: path.display().to_string(),
                config: Box::new(config),
                diagnostics,
            }
        }
    }
}

/// Backends the server would skip when it applies the config: dstack skips a backend whose
/// configurator is missing, and refuses default credentials when
/// `DSTACK_DEFAULT_CREDS_DISABLED` is set, each with a warning; so do we.
fn availability_warnings(config: &LoadedConfig, registry: &Registry) -> Vec<Diagnostic> {
    let default_creds_disabled = std::env::var_os("DSTACK_DEFAULT_CREDS_DISABLED").is_some();
    let mut warnings = Vec::new();
    for project in &config.projects {
        for backend in project.backends.iter().flatten() {
            if default_creds_disabled && backend.config.uses_default_creds() {
                warnings.push(
                    Diagnostic::warning(
                        "default credentials are disabled by DSTACK_DEFAULT_CREDS_DISABLED; \
                         the server will refuse this backend",
                        backend.location,
                    )
                    .at_path(format!("{}.creds", backend.path)),
                );
            }
            let backend_type = backend.config.backend_type();
            if let Err(err) = registry.get(backend_type) {
                // Removed types already carry their own warning.
                if backend_type.cargo_feature().is_some() {
                    warnings.push(
                        Diagnostic::warning(
                            format!("{}; the server will skip this backend", err.message()),
                            backend.location,
                        )
                        .at_path(format!("{}.type", backend.path)),
                    );
                }
            }
        }
    }
    warnings
}

/// Prints the outcome: human text on stderr (and a summary on stdout), or JSON on stdout.
pub fn print(outcome: &Outcome, json: bool, source: impl Fn(&str) -> Option<String>) {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    if json {
        let diagnostics: &[Diagnostic] = match outcome {
            Outcome::Accepted { diagnostics, .. } => diagnostics,
            Outcome::Refused(report) => &report.diagnostics,
            Outcome::Skipped { .. } => &[],
        };
        let _ = writeln!(stdout, "{}", diagnostics_json(diagnostics));
        if let Outcome::Skipped { reason } = outcome {
            let _ = writeln!(stderr, "{reason}");
        }
        return;
    }
    match outcome {
        Outcome::Skipped { reason } => {
            let _ = writeln!(stdout, "nothing to check: {reason}");
        }
        Outcome::Refused(report) => {
            let _ = write!(stderr, "{}", report.render());
        }
        Outcome::Accepted { file, config, diagnostics } => {
            let text = source(file);
            for d in diagnostics {
                let _ = writeln!(stderr, "{}", d.render(file, text.as_deref()));
            }
            let backends: usize =
                config.projects.iter().map(|p| p.backends.as_ref().map_or(0, Vec::len)).sum();
            let _ = writeln!(
                stdout,
                "{file}: OK ({} project{}, {backends} backend{}{})",
                config.projects.len(),
                if config.projects.len() == 1 { "" } else { "s" },
                if backends == 1 { "" } else { "s" },
                match diagnostics.len() {
                    0 => String::new(),
                    n => format!(", {n} warning{}", if n == 1 { "" } else { "s" }),
                }
            );
        }
    }
}

/// The `--json` form: a list of `{severity, path, line, column, message}`.
pub fn diagnostics_json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let Location { line, column } = d.location;
            let known = d.location.is_known();
            serde_json::json!({
                "severity": d.severity,
                "path": d.path,
                "line": known.then_some(line),
                "column": known.then_some(column),
                "message": d.message,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned())
}
