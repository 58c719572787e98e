//! `dstack-server config check --online`: every configured backend's credential and network
//! checks, the code the server runs when it applies config.yml, all at once, each within the
//! check timeout; a table of what each cloud answered.

use std::io::Write;
use std::time::Instant;

use dstack_core::Registry;
use dstack_core::backend::ValidationContext;
use dstack_core::config::{BackendType, LoadedConfig};
use futures::future::join_all;

/// What one backend's check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub project: String,
    pub backend: BackendType,
    pub verdict: Verdict,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Ok,
    /// The cloud (or a rule) refused the backend: the server would skip it.
    Refused(String),
    /// Not checked: this build cannot configure the type (the server skips it too).
    Skipped(String),
}

/// Checks every backend of `config`, in parallel.
pub async fn check(
    config: &LoadedConfig,
    registry: &Registry,
    context: ValidationContext,
) -> Vec<Checked> {
    let checks = config.projects.iter().flat_map(|project| {
        project.backends.iter().flatten().map(move |backend| async move {
            let backend_type = backend.config.backend_type();
            let started = Instant::now();
            let verdict = match registry.get(backend_type) {
                Err(err) => Verdict::Skipped(err.message().to_owned()),
                Ok(configurator) => {
                    match configurator.validate_config(&backend.config, &context).await {
                        Ok(()) => Verdict::Ok,
                        Err(err) => Verdict::Refused(err.message().to_owned()),
                    }
                }
            };
            Checked {
                project: project.name.clone(),
                backend: backend_type,
                verdict,
                seconds: started.elapsed().as_secs_f64(),
            }
        })
    });
    join_all(checks).await
}

/// 1 if any backend was refused.
pub fn exit_code(results: &[Checked]) -> i32 {
    i32::from(results.iter().any(|r| matches!(r.verdict, Verdict::Refused(_))))
}

/// A result as printed: project, backend, status, reason, seconds.
fn row(r: &Checked) -> (&str, &'static str, &'static str, &str, f64) {
    let (status, reason) = match &r.verdict {
        Verdict::Ok => ("ok", ""),
        Verdict::Refused(reason) => ("refused", reason.as_str()),
        Verdict::Skipped(reason) => ("skipped", reason.as_str()),
    };
    (&r.project, r.backend.as_str(), status, reason, r.seconds)
}

/// The table, or with `json` a list of `{project, backend, status, reason, seconds}`.
pub fn print(results: &[Checked], json: bool, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<_> = results.iter().map(row).collect();
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(project, backend, status, reason, seconds)| {
                serde_json::json!({
                    "project": project,
                    "backend": backend,
                    "status": status,
                    "reason": (!reason.is_empty()).then_some(reason),
                    "seconds": (seconds * 1000.0).round() / 1000.0,
                })
            })
            .collect();
        return writeln!(out, "{}", serde_json::to_string_pretty(&items).unwrap_or_default());
    }
    let p = rows.iter().map(|r| r.0.len()).chain(["PROJECT".len()]).max().unwrap_or(0);
    let b = rows.iter().map(|r| r.1.len()).chain(["BACKEND".len()]).max().unwrap_or(0);
    writeln!(out, "{:p$}  {:b$}  {:7}  {:>7}  REASON", "PROJECT", "BACKEND", "STATUS", "SECONDS")?;
    for (project, backend, status, reason, seconds) in &rows {
        writeln!(out, "{project:p$}  {backend:b$}  {status:7}  {seconds:>7.2}  {reason}")?;
    }
    let refused = rows.iter().filter(|r| r.2 == "refused").count();
    let plural = if rows.len() == 1 { "" } else { "s" };
    writeln!(out, "{} backend{plural} checked, {refused} refused", rows.len())
}
