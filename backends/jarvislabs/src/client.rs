//! The HTTP side of JarvisLabs' API: the main host and one host per region (gpuhunt's table,
//! or all derived from one override URL), Bearer auth, and how dstack reads the answers —
//! error bodies, `success: false` on a 2xx answer, and the words that mean "no capacity".

use std::collections::BTreeMap;

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use reqwest::StatusCode;
use serde_json::{Map, Value};

/// JarvisLabs' main API host, as gpuhunt's `API_URL` (and so dstack) has it: the credential
/// check, offers, SSH keys and instance lookups go there.
pub const DEFAULT_API_URL: &str = "https://backendn.jarvislabs.net";

/// gpuhunt 0.1.34's `JARVISLABS_REGION_URLS`: VMs are created, polled and destroyed on their
/// region's host, and `server_meta` does not say which host that is.
pub const REGION_URLS: [(&str, &str); 4] = [
    ("india-01", "https://backendprod.jarvislabs.net"),
    ("india-chennai-01", "https://backendc.jarvislabs.net"),
    ("india-noida-01", "https://backendn.jarvislabs.net"),
    ("europe-01", "https://backendeu.jarvislabs.net"),
];

/// The config field a refused key concerns.
const CREDENTIAL_FIELDS: &[&[&str]] = &[&["creds", "api_key"]];

/// Where each call goes: the main host and the host of each known region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    main: String,
    regions: BTreeMap<String, String>,
}

impl Hosts {
    /// JarvisLabs' own hosts: [`DEFAULT_API_URL`] and [`REGION_URLS`].
    pub fn published() -> Self {
        let regions = REGION_URLS.iter().map(|(r, url)| ((*r).to_owned(), (*url).to_owned()));
        Self { main: DEFAULT_API_URL.to_owned(), regions: regions.collect() }
    }

    /// Every host from one base URL (`DSTACK_JARVISLABS_API_URL`): the main host is `url`,
    /// and the host of region `r` is `url/r` — one server (a proxy, a mirror, a fake) can
    /// serve them all and tell the regions apart by the first path segment.
    pub fn derived(url: &str) -> Self {
        let main = url.trim_end_matches('/').to_owned();
        let regions = REGION_URLS.iter().map(|(r, _)| ((*r).to_owned(), format!("{main}/{r}")));
        Self { regions: regions.collect(), main }
    }

    /// The hosts for the backend's endpoint: JarvisLabs' own for [`DEFAULT_API_URL`],
    /// otherwise derived from the override.
    pub fn for_endpoint(endpoint: &str) -> Self {
        if endpoint.trim_end_matches('/') == DEFAULT_API_URL {
            Self::published()
        } else {
            Self::derived(endpoint)
        }
    }

    pub fn main(&self) -> &str {
        &self.main
    }

    /// The host of `region`, if JarvisLabs has told which it is.
    pub fn region(&self, region: &str) -> Option<&str> {
        self.regions.get(region).map(String::as_str)
    }
}

/// The REST clients of one API key: one for the main host, one per region host.
#[derive(Debug, Clone)]
pub struct JarvisLabsClient {
    pub(crate) main: RestClient,
    regions: BTreeMap<String, RestClient>,
}

impl JarvisLabsClient {
    /// Requests carry `Authorization: Bearer <key>` on every host, as dstack sends it.
    pub fn new(hosts: &Hosts, key: &Secret, http: &HttpSettings) -> Self {
        let client = |url: &str| {
            RestClient::new(BackendType::Jarvislabs, url, Auth::Bearer(key.clone()), http)
                .with_credential_fields(CREDENTIAL_FIELDS)
                .with_error_body(error_body)
        };
        let regions = hosts.regions.iter().map(|(r, url)| (r.clone(), client(url))).collect();
        Self { main: client(&hosts.main), regions }
    }

    /// The client of `region`'s host. An unknown region is refused before any request, as
    /// dstack refuses it: there is no host to guess.
    pub fn region(&self, region: &str) -> Result<&RestClient> {
        self.regions.get(region).ok_or_else(|| {
            unexpected(format!(
                "Unsupported JarvisLabs region {}. \
                 JarvisLabs does not expose provisioning endpoint discovery.",
                py_repr(&Value::String(region.to_owned()))
            ))
        })
    }
}

/// dstack's `_get_response_error`: the JSON body's message, else the body's text, else
/// `HTTP <code>`. A 400 or 409 whose message reads like "no capacity" is `NoCapacity`.
fn error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    let message = match serde_json::from_str::<Value>(body) {
        Ok(data) => Some(backend_message(&data)).filter(|m| !m.is_empty()),
        Err(_) => Some(body.to_owned()).filter(|b| !b.is_empty()),
    }
    .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    let capacity = matches!(status.as_u16(), 400 | 409) && looks_like_no_capacity(&message);
    Some(ProviderError { message, kind: capacity.then_some(ErrorKind::NoCapacity) })
}

/// dstack's `_raise_if_unsuccessful`: a 2xx answer whose `success` (or JarvisLabs' misspelt
/// `sucess`) is false fails with the answer's message — "no capacity" when it reads so,
/// otherwise `"<what>: <message>"`. An empty body counts as `{}`.
pub(crate) fn checked(answer: Value, what: &str) -> Result<Value> {
    let answer = if answer.is_null() { Value::Object(Map::new()) } else { answer };
    if is_successful(&answer) {
        return Ok(answer);
    }
    let message = backend_message(&answer);
    if looks_like_no_capacity(&message) {
        return Err(
            BackendError::new(ErrorKind::NoCapacity, message).for_backend(BackendType::Jarvislabs)
        );
    }
    Err(unexpected(format!("{what}: {message}")))
}

/// dstack's `_is_successful`: only an object with a false `success` (or `sucess`) fails.
pub(crate) fn is_successful(answer: &Value) -> bool {
    let Value::Object(data) = answer else { return true };
    match data.get("success").or_else(|| data.get("sucess")) {
        Some(flag) => coerce_bool(flag),
        None => true,
    }
}

/// dstack's `_coerce_bool`: strings are `1`, `true`, `yes` or `success`; other values by
/// Python's truth.
fn coerce_bool(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            matches!(s.trim().to_lowercase().as_str(), "1" | "true" | "yes" | "success")
        }
        other => truthy(other),
    }
}

/// dstack's `_backend_message`: a `detail` list joined with `; `, else the first set of
/// `message`, `error`, `detail` and `msg`, else the whole answer.
pub(crate) fn backend_message(answer: &Value) -> String {
    let Value::Object(data) = answer else { return py_str(answer) };
    if let Some(Value::Array(items)) = data.get("detail") {
        let messages: Vec<String> =
            items.iter().map(|item| py_str(item.get("msg").unwrap_or(item))).collect();
        return messages.join("; ");
    }
    ["message", "error", "detail", "msg"]
        .iter()
        .filter_map(|field| data.get(*field))
        .find(|value| truthy(value))
        .map_or_else(|| py_str(answer), py_str)
}

/// dstack's `_looks_like_no_capacity`.
pub(crate) fn looks_like_no_capacity(message: &str) -> bool {
    let message = message.to_lowercase();
    ["capacity", "available", "stock"].iter().any(|word| message.contains(word))
}

pub(crate) fn unexpected(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, message).for_backend(BackendType::Jarvislabs)
}

/// Python's truth value of a JSON value (`if value:`).
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Python's `str()` of a JSON value as dstack holds it (strings as they are, the rest as
/// Python prints them).
pub(crate) fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a JSON value: `'text'`, `None`, `True`, `[...]`, `{'k': v}`.
pub(crate) fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Value::Array(items) => {
            format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hosts_are_gpuhunts_or_derived_from_one_url() {
        let published = Hosts::for_endpoint(DEFAULT_API_URL);
        assert_eq!(published, Hosts::published());
        assert_eq!(published.region("india-01"), Some("https://backendprod.jarvislabs.net"));
        assert_eq!(published.region("india-noida-01"), Some(DEFAULT_API_URL));
        assert_eq!(published.region("us-east-1"), None);
        let derived = Hosts::for_endpoint("http://127.0.0.1:9/jl/");
        assert_eq!(derived.main(), "http://127.0.0.1:9/jl");
        assert_eq!(derived.region("europe-01"), Some("http://127.0.0.1:9/jl/europe-01"));
        let regions: Vec<&str> = REGION_URLS.iter().map(|(r, _)| *r).collect();
        assert_eq!(regions, dstack_core::config::backends::JARVISLABS_REGIONS, "one region list");
    }

    #[test]
    fn answers_are_read_as_dstack_reads_them() {
        assert!(checked(Value::Null, "x").is_ok(), "an empty body is {{}}");
        assert!(checked(json!([1]), "x").is_ok());
        assert!(checked(json!({"success": "True"}), "x").is_ok());
        assert!(checked(json!({"sucess": 1}), "x").is_ok());
        let err =
            checked(json!({"success": "no", "message": "boom"}), "Failed to add").unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::Unexpected, "Failed to add: boom"));
        let err = checked(json!({"success": false, "error": "Out of stock"}), "x").unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::NoCapacity, "Out of stock"));
        let err = checked(json!({"success": false}), "x").unwrap_err();
        assert_eq!(err.message(), "x: {'success': False}");
        assert_eq!(
            backend_message(&json!({"detail": [{"msg": "a"}, {"loc": 1}]})),
            "a; {'loc': 1}"
        );
        assert_eq!(backend_message(&json!({"message": "", "msg": "m"})), "m");
        let read =
            |status: u16, body: &str| error_body(StatusCode::from_u16(status).unwrap(), body);
        let capacity = read(400, r#"{"detail": "L4 not available at this moment"}"#).unwrap();
        assert_eq!(capacity.kind, Some(ErrorKind::NoCapacity));
        assert_eq!(capacity.message, "L4 not available at this moment");
        assert_eq!(read(500, r#"{"detail": "no capacity"}"#).unwrap().kind, None, "400/409 only");
        assert_eq!(read(502, "").unwrap().message, "HTTP 502");
        assert_eq!(read(502, "bad gateway").unwrap().message, "bad gateway");
        assert_eq!(py_repr(&json!("it's")), r#""it's""#);
    }
}
