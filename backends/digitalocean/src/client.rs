//! DigitalOcean's API v2 as far as the backend uses it (dstack's `DigitalOceanAPIClient`).
//! AMD Developer Cloud serves the same API at another host.

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// DigitalOcean's API, as in dstack's `DigitalOceanConfigurator.API_URL`.
pub const DIGITALOCEAN_API_URL: &str = "https://api.digitalocean.com";

/// AMD Developer Cloud's API, as in dstack's `AMDDevCloudConfigurator.API_URL`.
pub const AMDDEVCLOUD_API_URL: &str = "https://api.devcloud.amd.com";

/// Pages followed at most for one listing (200 items each at most): a guard against an API
/// that keeps announcing a next page.
const MAX_PAGES: u32 = 50;

/// A client for one API key.
pub fn client(
    backend: BackendType,
    base_url: &str,
    api_key: &Secret,
    http: &HttpSettings,
) -> RestClient {
    RestClient::new(backend, base_url, Auth::Bearer(api_key.clone()), http)
        .with_credential_fields(&[&["creds", "api_key"]])
        .with_error_body(error_body)
}

/// DigitalOcean's error body: `{"id": "not_found", "message": "...", "request_id": "..."}`.
fn error_body(_status: reqwest::StatusCode, body: &str) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Body {
        id: Option<String>,
        message: Option<String>,
    }
    let body = serde_json::from_str::<Body>(body).ok()?;
    body.message.or(body.id).map(ProviderError::message)
}

/// As [`error_body`], and a 422 to a droplet create is "no capacity", as dstack reads it.
fn droplet_error_body(status: reqwest::StatusCode, body: &str) -> Option<ProviderError> {
    let mut error = error_body(status, body)?;
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        error.kind = Some(ErrorKind::NoCapacity);
    }
    Some(error)
}

fn unreadable(call: &str, err: serde_json::Error) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, format!("{call}: unreadable answer: {err}"))
}

/// Every item under `key` of a paginated listing: the first page as dstack asks for it
/// (`query` as given), then `page=2, 3, ...` while the answer links a next page (dstack reads
/// the first page only).
pub async fn list_all<T: DeserializeOwned>(
    client: &RestClient,
    path: &str,
    query: &str,
    key: &str,
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    for page in 1..=MAX_PAGES {
        let query = match (query.is_empty(), page) {
            (true, 1) => String::new(),
            (false, 1) => format!("?{query}"),
            (true, n) => format!("?page={n}"),
            (false, n) => format!("?{query}&page={n}"),
        };
        let mut answer: Value = client.get(&format!("{path}{query}")).await?;
        let list = answer.get_mut(key).map(Value::take).unwrap_or(Value::Array(Vec::new()));
        let list: Vec<T> =
            serde_json::from_value(list).map_err(|e| unreadable(&format!("GET {path}"), e))?;
        let next = answer.pointer("/links/pages/next").is_some_and(Value::is_string);
        let empty = list.is_empty();
        items.extend(list);
        if !next || empty {
            break;
        }
    }
    Ok(items)
}

/// `GET /v2/account`: dstack's credential check.
pub async fn account(client: &RestClient) -> Result<()> {
    client.get::<Value>("/v2/account").await.map(drop)
}

#[derive(Debug, Deserialize)]
struct Project {
    id: String,
    name: String,
}

/// The ID of the project named `name` (`GET /v2/projects`), if there is one.
pub async fn project_id(client: &RestClient, name: &str) -> Result<Option<String>> {
    let projects: Vec<Project> = list_all(client, "/v2/projects", "", "projects").await?;
    Ok(projects.into_iter().find(|p| p.name == name).map(|p| p.id))
}

#[derive(Debug, Deserialize)]
struct SshKey {
    id: u64,
    public_key: String,
}

async fn find_ssh_key(client: &RestClient, public_key: &str) -> Result<Option<u64>> {
    let keys: Vec<SshKey> = list_all(client, "/v2/account/keys", "", "ssh_keys").await?;
    Ok(keys.into_iter().find(|k| k.public_key.trim() == public_key.trim()).map(|k| k.id))
}

/// dstack's `get_or_create_ssh_key`: the ID of the account's key with this public key
/// (`GET /v2/account/keys`), else of a new one named `name` (`POST /v2/account/keys`). A
/// create refused because the key exists (another create registered it meanwhile) finds it.
pub async fn get_or_create_ssh_key(
    client: &RestClient,
    name: &str,
    public_key: &str,
) -> Result<u64> {
    if let Some(id) = find_ssh_key(client, public_key).await? {
        return Ok(id);
    }
    #[derive(Serialize)]
    struct NewKey<'a> {
        name: &'a str,
        public_key: &'a str,
    }
    #[derive(Deserialize)]
    struct Created {
        ssh_key: SshKey,
    }
    let created: Result<Created> =
        client.post("/v2/account/keys", &NewKey { name, public_key }).await;
    match created {
        Ok(created) => Ok(created.ssh_key.id),
        Err(err) if err.kind() == ErrorKind::InvalidConfig => {
            match find_ssh_key(client, public_key).await? {
                Some(id) => Ok(id),
                None => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}

/// What `POST /v2/droplets` gets, in dstack's order.
#[derive(Debug, Serialize)]
pub struct NewDroplet<'a> {
    pub name: &'a str,
    pub region: &'a str,
    pub size: &'a str,
    pub image: &'a str,
    pub ssh_keys: Vec<u64>,
    pub backups: bool,
    pub ipv6: bool,
    pub monitoring: bool,
    pub tags: Vec<String>,
    pub user_data: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<&'a str>,
}

/// A droplet, as far as provisioning reads it.
#[derive(Debug, Deserialize)]
pub struct Droplet {
    pub id: u64,
    pub status: String,
    #[serde(default)]
    networks: Networks,
}

#[derive(Debug, Default, Deserialize)]
struct Networks {
    #[serde(default)]
    v4: Vec<Network>,
}

#[derive(Debug, Deserialize)]
struct Network {
    ip_address: String,
    #[serde(rename = "type")]
    kind: String,
}

impl Droplet {
    /// The first public IPv4 address, as dstack takes it.
    pub fn public_ipv4(&self) -> Option<&str> {
        self.networks.v4.iter().find(|n| n.kind == "public").map(|n| n.ip_address.as_str())
    }
}

#[derive(Deserialize)]
struct DropletAnswer {
    droplet: Droplet,
}

/// `POST /v2/droplets`: the new droplet's ID. A 422 is `NoCapacity` with DigitalOcean's
/// message, as in dstack.
pub async fn create_droplet(client: &RestClient, droplet: &NewDroplet<'_>) -> Result<u64> {
    let client = client.clone().with_error_body(droplet_error_body);
    let answer: DropletAnswer = client.post("/v2/droplets", droplet).await?;
    Ok(answer.droplet.id)
}

/// `GET /v2/droplets/{id}`; `None` when DigitalOcean does not know it.
pub async fn droplet(client: &RestClient, id: &str) -> Result<Option<Droplet>> {
    match client.get::<DropletAnswer>(&format!("/v2/droplets/{id}")).await {
        Ok(answer) => Ok(Some(answer.droplet)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// `DELETE /v2/droplets/{id}`; a droplet that is gone (404) is success, as in dstack.
pub async fn delete_droplet(client: &RestClient, id: &str) -> Result<()> {
    match client.delete::<Value>(&format!("/v2/droplets/{id}")).await {
        Err(err) if err.kind() == ErrorKind::NotFound => {
            tracing::debug!("DigitalOcean droplet {id} not found");
            Ok(())
        }
        other => other.map(drop),
    }
}
