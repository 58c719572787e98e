//! dstack's web UI: the prebuilt bundle dstack ships in its wheel
//! (`dstack/_internal/server/statics/`, MPL-2.0), served from `DSTACK_SERVER_UI_DIR` (by
//! default `ui/` in the server directory; `cargo xtask ui` puts it there).
//!
//! Which paths get what follows dstack's `app.py`, which mounts the bundle at `/` with
//! Starlette's `StaticFiles(html=True)` and answers a 404 with `index.html` (the UI routes in
//! the browser) except under `/api`, `/proxy`, `/metrics` and for pages a proxied service
//! asked for (a `Referer` under `/proxy` on this host): those keep their JSON 404, so a client
//! calling a missing endpoint never gets a page of HTML.
//!
//! The bundle's file names carry content hashes (`main-05f2ff121c7d0fb3415f.js`), so those are
//! cached for a year as immutable; everything else, `index.html` above all, is revalidated on
//! each use (`no-cache` with an ETag), so that an upgraded bundle is picked up at once.
//!
//! The directory is looked at on every request, so `cargo xtask ui` takes effect on a running
//! server.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How long a content-hashed file may be cached: a year, the longest `max-age` caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else is revalidated (the ETag makes that a 304 when nothing changed).
const REVALIDATE: &str = "no-cache";

/// Whether a UI bundle is installed in `dir`.
pub fn installed(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}

/// Logs where the UI comes from, or how to get it, once at start-up.
pub fn log_status(dir: &Path) {
    if installed(dir) {
        tracing::info!("Serving the web UI from {}", dir.display());
    } else {
        tracing::info!(
            "No web UI in {} (run `cargo xtask ui`, or set DSTACK_SERVER_UI_DIR)",
            dir.display()
        );
    }
}

/// Answers a request that no API route took, for a path outside `/api/`.
pub async fn answer(dir: &Path, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if !installed(dir) {
        return match (request.method(), path.as_str()) {
            (&Method::GET | &Method::HEAD, "/") => hint_page(),
            _ => not_found(),
        };
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            axum::Json(json!({"detail": "Method Not Allowed"})),
        )
            .into_response();
    }
    if let Some(file) = resolve(dir, &path)
        && let Some(response) = send_file(&file, request.headers()).await
    {
        return response;
    }
    if keeps_json_404(&path, request.headers()) {
        return not_found();
    }
    // A route of the single-page app (`/projects/main/settings`): the app itself decides.
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(html) => html_response(html),
        Err(err) => {
            tracing::warn!("cannot read {}: {err}", dir.join("index.html").display());
            not_found()
        }
    }
}

/// The file `path` names in `dir`: `index.html` for a directory, nothing for a path that
/// leaves `dir`, names a hidden file, or does not exist.
fn resolve(dir: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut file = dir.to_owned();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains(['\\', '\0']) {
            return None;
        }
        file.push(segment);
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

/// dstack's exceptions to the fallback to `index.html`: API, proxy and Prometheus paths, and
/// requests a service behind dstack's proxy makes (its pages refer to `/proxy/...` on this
/// host, or have a relative `Referer`).
fn keeps_json_404(path: &str, headers: &HeaderMap) -> bool {
    if ["/api", "/proxy", "/metrics"].iter().any(|prefix| path.starts_with(prefix)) {
        return true;
    }
    let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (netloc, referer_path) = match referer.split_once("://") {
        Some((_, rest)) => rest.split_at(rest.find('/').unwrap_or(rest.len())),
        None => ("", referer),
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    (netloc.is_empty() || netloc == host) && referer_path.starts_with("/proxy")
}

/// The file with its type, cache policy and ETag; a 304 when the client holds this version.
/// The body is streamed: the bundle's script is megabytes and the server's memory is not.
async fn send_file(file: &Path, request_headers: &HeaderMap) -> Option<Response> {
    let handle = tokio::fs::File::open(file).await.ok()?;
    let metadata = handle.metadata().await.ok()?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{modified:x}-{:x}\"", metadata.len());
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let cache = if is_hashed(name) { IMMUTABLE } else { REVALIDATE };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).ok()?);
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(metadata.len()));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some((headers, Body::from_stream(chunks(handle))).into_response())
}

/// A file's bytes, 64 KiB at a time.
fn chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0; 64 * 1024];
        let n = file.read(&mut buf).await?;
        buf.truncate(n);
        Ok((n > 0).then(|| (Bytes::from(buf), file)))
    })
}

/// Whether a bundle file's name carries a content hash: a run of at least 16 hex digits
/// between separators (`main-05f2ff121c7d0fb3415f.js`, `b7ae68f44193474fc578.png`).
fn is_hashed(name: &str) -> bool {
    name.split(['-', '.', '_'])
        .any(|part| part.len() >= 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// `index.html` for a route of the app; never cached, so a new bundle's page (which names
/// the new hashed files) is fetched after an upgrade.
fn html_response(html: Vec<u8>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, REVALIDATE)],
        html,
    )
        .into_response()
}

/// What `/` shows when no bundle is installed: how to install one.
fn hint_page() -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dstack</title>\
         </head><body><h1>dstack server {version}</h1>\
         <p>The server is running, but dstack's web UI is not installed.</p>\
         <p>To install it, run <code>cargo xtask ui</code> in the server's source tree: it \
         downloads the <code>dstack=={version}</code> wheel from PyPI and unpacks its prebuilt \
         UI into <code>ui/</code> in the server directory, where the running server picks it \
         up. To serve a UI from elsewhere, start the server with \
         <code>DSTACK_SERVER_UI_DIR</code> set to its directory.</p>\
         <p>The API is under <code>/api/</code>, described at \
         <a href=\"/openapi.json\">/openapi.json</a>; the <code>dstack</code> CLI works \
         without the UI.</p></body></html>",
        version = crate::settings::DSTACK_VERSION
    );
    html_response(html.into_bytes())
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not Found"}))).into_response()
}

/// `%XX` decoding of a URL path; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "main-05f2ff121c7d0fb3415f.js";

    fn bundle() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>app</html>").unwrap();
        std::fs::write(dir.path().join(SCRIPT), "console.log(1)").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/favicon.ico"), "ico").unwrap();
        std::fs::write(dir.path().join(".version"), "dstack==0.22.5").unwrap();
        dir
    }

    async fn get(dir: &Path, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(dir, request.body(Body::empty()).unwrap()).await
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers().get(name).map_or("", |v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn hashed_files_are_immutable_and_pages_are_revalidated() {
        let dir = bundle();
        let script = get(dir.path(), "GET", &format!("/{SCRIPT}"), &[]).await;
        assert_eq!(script.status(), StatusCode::OK);
        assert_eq!(header_of(&script, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(header_of(&script, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
        assert_eq!(header_of(&script, header::CONTENT_LENGTH), "14");
        assert_eq!(text(script).await, "console.log(1)");
        for path in ["/", "/index.html", "/assets/favicon.ico"] {
            let page = get(dir.path(), "GET", path, &[]).await;
            assert_eq!(page.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&page, header::CACHE_CONTROL), REVALIDATE, "{path}");
        }
    }

    #[tokio::test]
    async fn a_held_version_is_not_sent_again() {
        let dir = bundle();
        let first = get(dir.path(), "GET", "/", &[]).await;
        let etag = header_of(&first, header::ETAG).to_owned();
        assert!(etag.starts_with('"'), "{etag}");
        let again = get(dir.path(), "GET", "/", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(text(again).await, "");
    }

    #[tokio::test]
    async fn app_routes_get_the_page_and_api_paths_keep_their_json_404() {
        let dir = bundle();
        let route = get(dir.path(), "GET", "/projects/main/settings", &[]).await;
        assert_eq!(route.status(), StatusCode::OK);
        assert_eq!(header_of(&route, header::CACHE_CONTROL), REVALIDATE);
        assert_eq!(text(route).await, "<html>app</html>");
        for path in ["/apix", "/proxy/services/main/x/", "/metrics", "/.version", "/%2e%2e/etc"] {
            let expected = if path.starts_with("/.") || path.contains("%2e") {
                StatusCode::OK // not served as a file, but an app route
            } else {
                StatusCode::NOT_FOUND
            };
            let answer = get(dir.path(), "GET", path, &[]).await;
            assert_eq!(answer.status(), expected, "{path}");
            let body = text(answer).await;
            assert!(!body.contains("dstack==") && !body.contains("root:"), "{path}: {body}");
        }
        let proxied = [("host", "127.0.0.1:3000"), ("referer", "http://127.0.0.1:3000/proxy/x")];
        let leaked = get(dir.path(), "GET", "/static/app.js", &proxied).await;
        assert_eq!(leaked.status(), StatusCode::NOT_FOUND);
        assert_eq!(text(leaked).await, r#"{"detail":"Not Found"}"#);
        let elsewhere = [("host", "127.0.0.1:3000"), ("referer", "http://other/proxy/x")];
        assert_eq!(get(dir.path(), "GET", "/x", &elsewhere).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn other_methods_are_refused_as_dstack_does() {
        let dir = bundle();
        let post = get(dir.path(), "POST", "/projects", &[]).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header_of(&post, header::ALLOW), "GET, HEAD");
        assert_eq!(text(post).await, r#"{"detail":"Method Not Allowed"}"#);
    }

    #[tokio::test]
    async fn without_a_bundle_the_root_says_how_to_get_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = get(dir.path(), "GET", "/", &[]).await;
        assert_eq!(root.status(), StatusCode::OK);
        assert!(text(root).await.contains("cargo xtask ui"));
        let other = get(dir.path(), "GET", "/projects", &[]).await;
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
        assert_eq!(get(dir.path(), "POST", "/", &[]).await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed(SCRIPT));
        assert!(is_hashed("b7ae68f44193474fc578.png"));
        assert!(is_hashed("main-61cf4dfd8bf7ba0d16fd.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("apple-touch-icon-1024x1024.png"));
        assert!(!is_hashed("logo-notext.svg"));
    }
}
