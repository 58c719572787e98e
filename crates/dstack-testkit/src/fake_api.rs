//! A provider's REST API on a loopback port, for backend tests: scripted routes in the
//! provider's own shapes, an auth check, a record of every request, and faults on demand
//! (429 or 5xx for the next N calls). A backend's test writes only the shapes; with the
//! provider's published description ([`crate::openapi::Spec`]) every request and answer is
//! also held to it.
//!
//! ```ignore
//! let api = FakeApi::builder()
//!     .prefix("/api/v1")
//!     .bearer("good-key")
//!     .route("GET", "/instance-types", |_| Reply::json(json!({"data": {}})))
//!     .start()
//!     .await;
//! api.fail_next(2, 429, Some(1));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::openapi::Spec;

/// An answer of the fake.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(body: Value) -> Self {
        Self { status: 200, body, headers: Vec::new() }
    }

    /// Another status with a JSON body (the provider's error shape).
    pub fn status(status: u16, body: Value) -> Self {
        Self { status, body, headers: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request the fake received. The credentials header is kept out.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path below the prefix.
    pub path: String,
    pub query: Option<String>,
    /// Path parameters of the matched route (`{id}` → value).
    pub params: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    /// The JSON body (`null` when empty or not JSON).
    pub body: Value,
}

type Handler = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct Route {
    method: Method,
    segments: Vec<String>,
    handler: Handler,
}

struct Fault {
    status: u16,
    retry_after: Option<u64>,
}

struct Shared {
    prefix: String,
    /// The credentials header and the values it may carry.
    credential: Option<(String, Vec<String>)>,
    unauthorized: Reply,
    routes: Vec<Route>,
    requests: Mutex<Vec<Recorded>>,
    faults: Mutex<VecDeque<Fault>>,
    spec: Option<Spec>,
    violations: Mutex<Vec<String>>,
}

/// Builds a [`FakeApi`].
pub struct FakeApiBuilder {
    shared: Shared,
}

impl std::fmt::Debug for FakeApiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiBuilder").field("prefix", &self.shared.prefix).finish()
    }
}

impl FakeApiBuilder {
    /// The path the provider's base URL ends with (`/api/v1`); [`FakeApi::url`] includes it.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.shared.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Requests must carry `Authorization: Bearer <token>` (this token or another one given
    /// so); others get [`Self::unauthorized`].
    pub fn bearer(self, token: &str) -> Self {
        self.header_auth("authorization", &format!("Bearer {token}"))
    }

    /// Requests must carry `name: value` (this value or another one given so).
    pub fn header_auth(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        match &mut self.shared.credential {
            Some((header, values)) if *header == name => values.push(value.to_owned()),
            other => *other = Some((name, vec![value.to_owned()])),
        }
        self
    }

    /// The answer to a request without valid credentials (default: 401, `{}`).
    pub fn unauthorized(mut self, reply: Reply) -> Self {
        self.shared.unauthorized = reply;
        self
    }

    /// Holds every request and answer to the provider's published description (`None`
    /// where this checkout has none: unchecked). A request that does not fit gets 400 with
    /// the reason; every misfit is kept for [`FakeApi::violations`].
    pub fn openapi(mut self, spec: Option<Spec>) -> Self {
        self.shared.spec = spec;
        self
    }

    /// Answers `method path` (segments written `{name}` match anything) with `handler`.
    pub fn route(
        mut self,
        method: &str,
        path: &str,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.shared.routes.push(Route {
            method: method.parse().expect("an HTTP method"),
            segments: segments(path),
            handler: Box::new(handler),
        });
        self
    }

    /// Starts the fake on a free loopback port.
    pub async fn start(self) -> FakeApi {
        let shared = Arc::new(self.shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("a bound port");
        let app = axum::Router::new().fallback({
            let shared = shared.clone();
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = shared.clone();
                // Handlers are plain functions that may sleep (a slow launch): they run on the
                // blocking pool so that they never stall the test's own runtime.
                async move {
                    tokio::task::spawn_blocking(move || answer(&shared, method, uri, headers, body))
                        .await
                        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
                }
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeApi {
            url: format!("http://{addr}{}", shared.prefix),
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// A running fake API; stopped when dropped.
pub struct FakeApi {
    url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApi").field("url", &self.url).finish()
    }
}

impl FakeApi {
    pub fn builder() -> FakeApiBuilder {
        FakeApiBuilder {
            shared: Shared {
                prefix: String::new(),
                credential: None,
                unauthorized: Reply::status(401, json!({})),
                routes: Vec::new(),
                requests: Mutex::new(Vec::new()),
                faults: Mutex::new(VecDeque::new()),
                spec: None,
                violations: Mutex::new(Vec::new()),
            },
        }
    }

    /// The base URL, prefix included: what the backend's endpoint override takes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Requests and answers that did not fit the provider's description, with the reason.
    /// A test ends with `assert_eq!(api.violations(), Vec::<String>::new())`.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The next `count` requests get `status` (with `Retry-After: seconds` when given),
    /// whatever they ask; later ones are answered as scripted.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let mut faults = self.shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.extend((0..count).map(|_| Fault { status, retry_after }));
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The parameters of `route` if it matches `path`.
fn matches(route: &Route, method: &Method, path: &[String]) -> Option<BTreeMap<String, String>> {
    if route.method != method || route.segments.len() != path.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (pattern, actual) in route.segments.iter().zip(path) {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), actual.clone());
            }
            None if pattern == actual => {}
            None => return None,
        }
    }
    Some(params)
}

fn answer(shared: &Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full = uri.path();
    let path = full.strip_prefix(shared.prefix.as_str()).unwrap_or(full).to_owned();
    let credential = shared.credential.as_ref();
    let kept: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| credential.is_none_or(|(header, _)| name.as_str() != header))
        .filter(|(name, _)| name.as_str() != "authorization")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let mut recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        params: BTreeMap::new(),
        headers: kept,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let reply = (|| {
        if let Some(fault) = shared.faults.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
            let reply = Reply::status(fault.status, json!({"error": "injected fault"}));
            return match fault.retry_after {
                Some(seconds) => reply.header("retry-after", &seconds.to_string()),
                None => reply,
            };
        }
        if let Some((header, values)) = credential {
            let given = headers.get(header.as_str()).and_then(|v| v.to_str().ok());
            if !given.is_some_and(|given| values.iter().any(|v| v == given)) {
                return shared.unauthorized.clone();
            }
        }
        if let Some(spec) = &shared.spec
            && let Err(violation) = spec.check_request(
                method.as_str(),
                &recorded.path,
                recorded.query.as_deref(),
                &recorded.body,
            )
        {
            shared.violations.lock().unwrap_or_else(|e| e.into_inner()).push(violation.clone());
            return Reply::status(400, json!({"error": violation}));
        }
        let path = segments(&path);
        for route in &shared.routes {
            if let Some(params) = matches(route, &method, &path) {
                recorded.params = params;
                let reply = (route.handler)(&recorded);
                if let Some(spec) = &shared.spec
                    && let Err(violation) = spec.check_response(
                        method.as_str(),
                        &recorded.path,
                        reply.status,
                        &reply.body,
                    )
                {
                    shared.violations.lock().unwrap_or_else(|e| e.into_inner()).push(violation);
                }
                return reply;
            }
        }
        Reply::status(404, json!({"error": format!("no route for {method} {}", recorded.path)}))
    })();
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(recorded);
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(reply.body),
    )
        .into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
