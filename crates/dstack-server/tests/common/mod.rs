//! A real server on a free loopback port, and a minimal HTTP/1.1 client for it.

#![allow(dead_code)] // each test binary uses part of this

pub mod cli;
pub mod fleets;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use dstack_server::settings::Settings;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub state: dstack_server::state::AppState,
    pub admin: dstack_server::store::User,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server in a fresh state directory with the given database URL (SQLite in the
    /// directory when `None`).
    pub async fn start(database_url: Option<String>, config_yml: Option<&str>) -> TestServer {
        Self::start_with(database_url, config_yml, registry(), |_| {}).await
    }

    /// Starts a server with the given backends and settings changes.
    pub async fn start_with(
        database_url: Option<String>,
        config_yml: Option<&str>,
        registry: dstack_core::Registry,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_dir(dir.path().to_owned());
        settings.port = 0;
        settings.admin_token = Some(ADMIN_TOKEN.to_owned());
        if let Some(url) = database_url {
            settings.database_url = url;
        }
        if let Some(text) = config_yml {
            std::fs::write(dir.path().join("config.yml"), text).unwrap();
        }
        adjust(&mut settings);
        let started = dstack_server::server::start(settings, registry).await.unwrap();
        let (addr, state, admin) =
            (started.local_addr, started.state.clone(), started.admin.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            dstack_server::server::serve(started, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer { addr, dir, state, admin, shutdown: Some(tx), task: Some(task) }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// POSTs `body` (raw) with the given headers.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        http(self.addr, method, path, headers, body).await
    }

    /// POSTs JSON as `token`'s user.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        let auth = format!("Bearer {token}");
        let body = if body.is_null() { String::new() } else { body.to_string() };
        self.request(
            "POST",
            path,
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            &body,
        )
        .await
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a new connection, read to the end.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    Response { status, headers, body: body.to_owned() }
}

/// The `dstack-server` binary, running; killed when dropped.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    pub token: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a state directory, a free port, and none of the caller's dstack settings.
/// Its home is `dir/home`, so that the CLI config it writes at start stays in the test.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dstack-server"));
    cmd.env("DSTACK_SERVER_DIR", dir)
        .env("HOME", dir.join("home"))
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_UPDATE_DEFAULT_PROJECT")
        .env_remove("DSTACK_DO_NOT_UPDATE_DEFAULT_PROJECT")
        .env("DSTACK_SERVER_PORT", "0")
        .env_remove("DSTACK_SERVER_ADMIN_TOKEN")
        .env_remove("DSTACK_DATABASE_URL")
        .env_remove("DSTACK_SERVER_CONFIG_DISABLED")
        .env_remove("DSTACK_SERVER_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts the binary and waits for its two start-up lines.
pub fn run(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let token_line = lines.next().unwrap().unwrap();
    let token = token_line
        .strip_prefix("The admin user token is '")
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or_else(|| panic!("unexpected first line: {token_line}"))
        .to_owned();
    let address_line = lines.next().unwrap().unwrap();
    let addr = address_line
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("unexpected second line: {address_line}"));
    Running { child, addr, token }
}

/// The backends of the binary, with a catalog that is only loaded if offers are asked for.
pub fn registry() -> dstack_core::Registry {
    let context = dstack_backend_kit::BackendContext::new(dstack_server::registry::catalog(
        &std::env::temp_dir(),
    ));
    dstack_server::registry::build(&context)
}

/// The server's backends with Lambda's API at `lambda_url` and offers from `catalog`.
pub fn registry_with_lambda(lambda_url: &str, catalog: &std::path::Path) -> dstack_core::Registry {
    let mut context =
        dstack_backend_kit::BackendContext::new(dstack_testkit::fixtures::catalog_in(catalog));
    context.endpoints.set(dstack_core::config::BackendType::Lambda, lambda_url);
    dstack_server::registry::build(&context)
}

/// A fresh database on the test PostgreSQL server, if there is one.
pub async fn postgres_database() -> Option<String> {
    let base = std::env::var("DSTACK_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}
