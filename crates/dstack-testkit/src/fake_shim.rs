//! A fake `dstack-shim` HTTP API on loopback: the healthcheck the server asks an instance
//! for through its SSH tunnel. It follows dstack 0.22.5's Go shim,
//! `runner/internal/shim/api/server.go` (`GET /api/healthcheck`), `handlers.go`
//! (`HealthcheckHandler`: service `dstack-shim` and the shim's version) and `schemas.go`
//! (`HealthcheckResponse`), answered as `runner/internal/common/api`'s
//! `JSONResponseHandler` writes it: `Content-Type: application/json` and the JSON with
//! `json.Encoder`'s trailing newline; a 500 is `http.Error`'s plain text.
//!
//! A test starts it, points `SshSettings::shim_port` at [`FakeShim::port`] and logs in to a
//! test `sshd` on the same machine, whose tunnel to `localhost` reaches it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The version a fake shim reports unless told otherwise.
pub const FAKE_SHIM_VERSION: &str = "0.22.5";

/// How the fake answers its healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// `200 {"service":<service>,"version":<version>}`.
    Answer { service: String, version: String },
    /// `status` with `http.Error`'s plain-text body.
    Fail { status: u16 },
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    healthchecks: AtomicUsize,
}

/// A running fake shim; stopped when dropped.
#[derive(Debug)]
pub struct FakeShim {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeShim {
    /// Starts a healthy shim of version 0.22.5 on a free 127.0.0.1 port.
    pub async fn start() -> FakeShim {
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Answer {
                service: "dstack-shim".to_owned(),
                version: FAKE_SHIM_VERSION.to_owned(),
            }),
            healthchecks: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("a bound port").port();
        let app = axum::Router::new()
            .route(
                "/api/healthcheck",
                axum::routing::get({
                    let shared = shared.clone();
                    move || {
                        let shared = shared.clone();
                        async move { healthcheck(&shared) }
                    }
                }),
            )
            // Go's `ServeMux` for any other path.
            .fallback(|| async { (StatusCode::NOT_FOUND, plain("404 page not found\n")) });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeShim { port, shared, stop: Some(stop), task: Some(task) }
    }

    /// The loopback port it listens on: what `SshSettings::shim_port` takes.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many healthchecks it was asked for, whatever it answered.
    pub fn healthchecks(&self) -> usize {
        self.shared.healthchecks.load(Ordering::SeqCst)
    }

    /// From now on answers 200 as `service` of `version` (another service on the shim's
    /// port, or another shim version).
    pub fn answer_as(&self, service: &str, version: &str) {
        self.set(Mode::Answer { service: service.to_owned(), version: version.to_owned() });
    }

    /// From now on answers `status` (a shim whose handler failed answers 500).
    pub fn fail_with(&self, status: u16) {
        self.set(Mode::Fail { status });
    }

    /// From now on answers as a healthy shim of version 0.22.5 again.
    pub fn healthy(&self) {
        self.answer_as("dstack-shim", FAKE_SHIM_VERSION);
    }

    /// Stops listening: the port is closed once this returns (dropping stops it too).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }
}

impl Drop for FakeShim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The shim's `HealthcheckHandler`, as `JSONResponseHandler` writes its answer.
fn healthcheck(shared: &Shared) -> Response {
    shared.healthchecks.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match mode {
        Mode::Answer { service, version } => {
            let body = serde_json::json!({ "service": service, "version": version });
            let body = format!("{body}\n");
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Mode::Fail { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // `http.Error(w, "", status)`: the (empty) message and a newline.
            (status, plain("\n")).into_response()
        }
    }
}

/// `http.Error`'s headers and body.
fn plain(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
