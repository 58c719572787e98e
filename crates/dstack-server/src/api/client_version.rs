//! The `X-API-VERSION` check of dstack 0.22.5: the CLI and the Python API send their version,
//! and the server refuses a client of a newer minor (or major) release, since its requests may
//! carry fields this server does not know. Patch releases stay compatible both ways; `latest`
//! and any `0.0.0` build are development clients and never refused.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::settings::DSTACK_VERSION;

/// Middleware: an unparsable version is refused on every route (dstack checks it as an
/// app-wide dependency), an incompatible one on `/api/` routes.
pub(super) async fn check(request: Request, next: Next) -> Response {
    let Some(header) = request.headers().get("x-api-version") else {
        return next.run(request).await;
    };
    let text = String::from_utf8_lossy(header.as_bytes()).into_owned();
    let client = match ClientVersion::parse(&text) {
        Ok(client) => client,
        // dstack's `error_detail(str(e))`: a detail without a code.
        Err(()) => {
            let detail = json!([{"msg": format!("Invalid version: {text}"), "code": null}]);
            return (StatusCode::BAD_REQUEST, Json(json!({ "detail": detail }))).into_response();
        }
    };
    if request.uri().path().starts_with("/api/") && !client.compatible_with(DSTACK_VERSION) {
        return ApiError::client(format!(
            "The client/CLI version ({text}) is incompatible with the server version \
             ({DSTACK_VERSION})."
        ))
        .into_response();
    }
    next.run(request).await
}

/// A client's version as far as compatibility needs it.
#[derive(Debug, PartialEq)]
enum ClientVersion {
    /// `latest` or a `0.0.0` release: a development build.
    Development,
    /// The first two release numbers (a missing minor is 0).
    Release { major: u64, minor: u64 },
}

impl ClientVersion {
    /// Reads a PEP 440 version as Python's `packaging` does (case-insensitive, an optional
    /// leading `v`, surrounding whitespace ignored); anything else is `Err`.
    fn parse(text: &str) -> Result<Self, ()> {
        if text == "latest" {
            return Ok(ClientVersion::Development);
        }
        let release = pep440_release(&text.trim().to_ascii_lowercase()).ok_or(())?;
        if release == [0, 0, 0] {
            return Ok(ClientVersion::Development);
        }
        Ok(ClientVersion::Release {
            major: release[0],
            minor: release.get(1).copied().unwrap_or(0),
        })
    }

    /// dstack refuses only a client whose major or minor release is newer than the server's.
    fn compatible_with(&self, server: &str) -> bool {
        let ClientVersion::Release { major, minor } = *self else { return true };
        match ClientVersion::parse(server) {
            Ok(ClientVersion::Release { major: s_major, minor: s_minor }) => {
                (major, minor) <= (s_major, s_minor)
            }
            _ => true,
        }
    }
}

/// The release numbers of a lowercase PEP 440 version
/// (`[N!]N(.N)*[{a|b|c|rc|alpha|beta|pre|preview}N][.postN|-N][.devN][+local]`, with the
/// separators PEP 440's normalisation allows), or `None` when it is not one.
fn pep440_release(text: &str) -> Option<Vec<u64>> {
    let mut rest = text.strip_prefix('v').unwrap_or(text);
    if let Some((epoch, after)) = rest.split_once('!') {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = after;
    }
    let (public, local) = match rest.split_once('+') {
        Some((public, local)) => (public, Some(local)),
        None => (rest, None),
    };
    if let Some(local) = local
        && (local.is_empty()
            || local
                .split(['-', '_', '.'])
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric())))
    {
        return None;
    }
    let mut cursor = Cursor(public);
    let mut release = vec![cursor.number()?];
    while cursor.0.starts_with('.') && cursor.0[1..].starts_with(|c: char| c.is_ascii_digit()) {
        cursor.0 = &cursor.0[1..];
        release.push(cursor.number()?);
    }
    // Pre-release: separator, label, separator, optional number.
    let before = cursor.0;
    cursor.separator();
    if cursor.label(&["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"]) {
        cursor.separator();
        cursor.number();
    } else {
        cursor.0 = before;
    }
    // Post-release: `-N`, or separator, label, separator, optional number.
    let before = cursor.0;
    if cursor.0.starts_with('-') && cursor.0[1..].starts_with(|c: char| c.is_ascii_digit()) {
        cursor.0 = &cursor.0[1..];
        cursor.number();
    } else {
        cursor.separator();
        if cursor.label(&["post", "rev", "r"]) {
            cursor.separator();
            cursor.number();
        } else {
            cursor.0 = before;
        }
    }
    // Development release.
    let before = cursor.0;
    cursor.separator();
    if cursor.label(&["dev"]) {
        cursor.separator();
        cursor.number();
    } else {
        cursor.0 = before;
    }
    cursor.0.is_empty().then_some(release)
}

/// What is left of a version string while it is read front to back.
struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn number(&mut self) -> Option<u64> {
        let digits = self.0.bytes().take_while(u8::is_ascii_digit).count();
        let value = self.0[..digits].parse().ok()?;
        self.0 = &self.0[digits..];
        Some(value)
    }

    fn separator(&mut self) {
        if self.0.starts_with(['-', '_', '.']) {
            self.0 = &self.0[1..];
        }
    }

    /// Consumes the first of `labels` the text starts with (longest listed first).
    fn label(&mut self, labels: &[&str]) -> bool {
        match labels.iter().find(|label| self.0.starts_with(**label)) {
            Some(label) => {
                self.0 = &self.0[label.len()..];
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClientVersion::{self, Development, Release};

    fn parse(text: &str) -> Result<ClientVersion, ()> {
        ClientVersion::parse(text)
    }

    #[test]
    fn reads_pep440_versions_as_packaging_does() {
        assert_eq!(parse("0.22.5"), Ok(Release { major: 0, minor: 22 }));
        assert_eq!(parse("v1.2"), Ok(Release { major: 1, minor: 2 }));
        assert_eq!(parse("3"), Ok(Release { major: 3, minor: 0 }));
        assert_eq!(parse(" 0.22.5rc1 "), Ok(Release { major: 0, minor: 22 }));
        assert_eq!(parse("0.22.5.post2.dev1+local.7"), Ok(Release { major: 0, minor: 22 }));
        assert_eq!(parse("1!0.23.0-alpha.1"), Ok(Release { major: 0, minor: 23 }));
        assert_eq!(parse("0.22.5-1"), Ok(Release { major: 0, minor: 22 }));
        assert_eq!(parse("latest"), Ok(Development));
        assert_eq!(parse("0.0.0"), Ok(Development));
        assert_eq!(parse("0.0.0.dev0"), Ok(Development));
        assert_eq!(parse("0.0"), Ok(Release { major: 0, minor: 0 }));
        for invalid in ["", "abc", "0.22.", "0.22.5x", "1.2+", "1.2+a..b", "!1.0", "Latest "] {
            assert_eq!(parse(invalid), Err(()), "{invalid:?}");
        }
    }

    #[test]
    fn refuses_only_newer_minor_or_major_releases() {
        let compatible = |client: &str| parse(client).unwrap().compatible_with("0.22.5");
        assert!(compatible("0.22.5"));
        assert!(compatible("0.22.99"), "a newer patch release is compatible");
        assert!(compatible("0.21.0"));
        assert!(compatible("0.0.0"));
        assert!(compatible("latest"));
        assert!(!compatible("0.23.0rc1"));
        assert!(!compatible("1.0"));
        assert!(compatible("0.22.6"));
    }
}
