//! Vultr's API v2, as far as the backend uses it: listings with cursors, the key check, VPCs,
//! and instances / bare-metal machines.

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Vultr's API, as in dstack (`vultr.api_client.API_URL`) and gpuhunt.
pub const DEFAULT_API_URL: &str = "https://api.vultr.com/v2";

/// The most pages one listing follows (500 items each, as dstack and gpuhunt ask for).
const MAX_PAGES: usize = 100;

/// A client for one API key: `Authorization: Bearer <key>`.
pub fn client(base_url: &str, api_key: &Secret, http: &HttpSettings) -> RestClient {
    RestClient::new(BackendType::Vultr, base_url, Auth::Bearer(api_key.clone()), http)
        .with_credential_fields(&[&["creds", "api_key"]])
        .with_error_body(error_body)
}

/// Vultr's error body: `{"error": "...", "status": 400}`.
fn error_body(_status: reqwest::StatusCode, body: &str) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Body {
        error: String,
    }
    let body = serde_json::from_str::<Body>(body).ok()?;
    Some(ProviderError::message(body.error)).filter(|e| !e.message.is_empty())
}

/// `s` as one URL component (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every item under `key` of the listing at `path` (which carries `per_page`), following
/// `meta.links.next` cursors as Vultr pages.
pub async fn list(client: &RestClient, path: &str, key: &str) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = match &cursor {
            Some(cursor) => format!("{path}&cursor={}", encode(cursor)),
            None => path.to_owned(),
        };
        let mut page: Value = client.get(&url).await?;
        match page.get_mut(key).map(Value::take) {
            Some(Value::Array(found)) => items.extend(found),
            _ => return Err(unexpected(format!("GET {path}: the answer has no `{key}` list"))),
        }
        let next = page.pointer("/meta/links/next").and_then(Value::as_str).unwrap_or_default();
        if next.is_empty() {
            return Ok(items);
        }
        cursor = Some(next.to_owned());
    }
    tracing::warn!("GET {path}: more than {MAX_PAGES} pages; using the first ones");
    Ok(items)
}

fn unexpected(message: String) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, message).for_backend(BackendType::Vultr)
}

/// Reads `value` as `T`, naming `what` when it does not fit.
pub fn read<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| unexpected(format!("unreadable {what}: {e}")))
}

/// dstack's credential check: `GET /ssh-keys` (401 and 403 are invalid credentials).
pub async fn check_key(client: &RestClient) -> Result<()> {
    client.get::<Value>("/ssh-keys").await.map(drop)
}

/// A VPC (`v4_subnet` / `v4_subnet_mask`: its IPv4 range).
#[derive(Debug, Clone, Deserialize)]
pub struct Vpc {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub v4_subnet: Option<String>,
    pub v4_subnet_mask: Option<u32>,
}

/// The VPC dstack made for `region`: the one described `dstack-vpc-<region>`.
pub async fn find_vpc(client: &RestClient, region: &str) -> Result<Option<Vpc>> {
    let wanted = vpc_description(region);
    for vpc in list(client, "/vpcs?per_page=500", "vpcs").await? {
        let vpc: Vpc = read(vpc, "VPC")?;
        if vpc.description == wanted {
            return Ok(Some(vpc));
        }
    }
    Ok(None)
}

pub fn vpc_description(region: &str) -> String {
    format!("dstack-vpc-{region}")
}

/// `POST /vpcs {region, description}`: Vultr picks the subnet.
pub async fn create_vpc(client: &RestClient, region: &str) -> Result<Vpc> {
    let body = serde_json::json!({"region": region, "description": vpc_description(region)});
    let mut answer: Value = client.post("/vpcs", &body).await?;
    read(answer["vpc"].take(), "VPC")
}

pub async fn delete_vpc(client: &RestClient, id: &str) -> Result<()> {
    client.delete::<Value>(&format!("/vpcs/{}", encode(id))).await.map(drop)
}

/// Instances (`/instances`) or bare-metal machines (`/bare-metals`): dstack's `plan_type`
/// `vm_instance` or `bare-metal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Instance,
    BareMetal,
}

impl Kind {
    /// dstack's rule: plans whose name has `vbm` are bare metal.
    pub fn of_plan(plan: &str) -> Kind {
        if plan.contains("vbm") { Kind::BareMetal } else { Kind::Instance }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Instance => "/instances",
            Kind::BareMetal => "/bare-metals",
        }
    }

    /// The key of one machine in answers (`bare_metal`; the 2023 description also says
    /// `baremetal` for the create answer).
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Instance => &["instance"],
            Kind::BareMetal => &["bare_metal", "baremetal"],
        }
    }
}

/// What the backend reads of a machine.
#[derive(Debug, Clone, Deserialize)]
pub struct Machine {
    pub id: String,
    #[serde(default)]
    pub status: String,
    pub main_ip: Option<String>,
    pub internal_ip: Option<String>,
    #[serde(default)]
    pub label: String,
}

fn machine_of(kind: Kind, mut answer: Value) -> Result<Machine> {
    let found = kind.keys().iter().find_map(|key| Some(answer.get_mut(*key)?.take()));
    read(found.unwrap_or(Value::Null), "machine")
}

/// Creates a machine from `body`; returns its ID.
pub async fn launch(client: &RestClient, kind: Kind, body: &Value) -> Result<String> {
    let answer: Value = client.post(kind.path(), body).await?;
    Ok(machine_of(kind, answer)?.id)
}

pub async fn machine(client: &RestClient, kind: Kind, id: &str) -> Result<Machine> {
    machine_of(kind, client.get(&format!("{}/{}", kind.path(), encode(id))).await?)
}

/// The machines labelled `label` (`/bare-metals` has no label filter: filtered here).
pub async fn machines_labelled(
    client: &RestClient,
    kind: Kind,
    label: &str,
) -> Result<Vec<Machine>> {
    let (path, key) = match kind {
        Kind::Instance => (format!("/instances?per_page=500&label={}", encode(label)), "instances"),
        Kind::BareMetal => ("/bare-metals?per_page=500".to_owned(), "bare_metals"),
    };
    let mut found = Vec::new();
    for item in list(client, &path, key).await? {
        let machine: Machine = read(item, "machine")?;
        if machine.label == label {
            found.push(machine);
        }
    }
    Ok(found)
}

/// Deletes a machine; one that does not exist answers `NotFound`.
pub async fn delete_machine(client: &RestClient, kind: Kind, id: &str) -> Result<()> {
    client.delete::<Value>(&format!("{}/{}", kind.path(), encode(id))).await.map(drop)
}
