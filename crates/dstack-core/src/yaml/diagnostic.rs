//! Errors and warnings about a config text, each with its place in the text and its field
//! path, rendered the way a person can act on them.

use std::fmt;

use serde::Serialize;

/// A position in a text; 1-based line and column. `line == 0` means "not known" (JSON input
/// or a problem not tied to one place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(line: usize, column: usize) -> Self {
        Self { line, column }
    }

    pub fn unknown() -> Self {
        Self::default()
    }

    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a config: what, where (location and field path), how bad.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Field path such as `projects[0].backends[1].creds.access_key`; empty for the root.
    pub path: String,
    #[serde(flatten)]
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, location: Location) -> Self {
        Self { severity: Severity::Error, path: String::new(), location, message: message.into() }
    }

    pub fn warning(message: impl Into<String>, location: Location) -> Self {
        Self { severity: Severity::Warning, path: String::new(), location, message: message.into() }
    }

    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic with the offending line of `source` and a caret under the column,
    /// in the style of rustc:
    ///
    /// ```text
    /// error: missing required field `secret_key`
    ///   --> config.yml:6:11
    ///    |
    ///  6 |           access_key: AKIA
    ///    |           ^
    ///    = field: projects[0].backends[0].creds.secret_key
    /// ```
    pub fn render(&self, file: &str, source: Option<&str>) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{label}: {}\n", self.message));
        if self.location.is_known() {
            out.push_str(&format!(
                "  --> {file}:{}:{}\n",
                self.location.line, self.location.column
            ));
            if let Some(line) = source.and_then(|s| s.lines().nth(self.location.line - 1)) {
                let number = self.location.line.to_string();
                let pad = " ".repeat(number.len());
                let caret_pad: String = line
                    .chars()
                    .take(self.location.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!(" {pad} |\n {number} | {line}\n {pad} | {caret_pad}^\n"));
            }
        } else {
            out.push_str(&format!("  --> {file}\n"));
        }
        if !self.path.is_empty() {
            out.push_str(&format!("   = field: {}\n", self.path));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_known() {
            write!(f, "{}:{}: ", self.location.line, self.location.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Suggests the candidate closest to a misspelt `word`, if one is close enough to be a likely
/// typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Formats a list of allowed values as "`a`, `b`, `c`".
pub fn one_of(values: &[&str]) -> String {
    values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_at_the_column() {
        let d = Diagnostic::error("bad", Location::new(2, 5)).at_path("a.b");
        let text = d.render("config.yml", Some("a:\n  b:  x\n"));
        assert_eq!(
            text,
            "error: bad\n  --> config.yml:2:5\n   |\n 2 |   b:  x\n   |     ^\n   = field: a.b\n"
        );
    }

    #[test]
    fn suggestions_need_to_be_close() {
        assert_eq!(did_you_mean("acess_key", ["access_key", "secret_key"]), Some("access_key"));
        assert_eq!(did_you_mean("zzz", ["access_key", "secret_key"]), None);
    }
}
