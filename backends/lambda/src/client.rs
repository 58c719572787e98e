//! Lambda Cloud's API, as far as the backend uses it: instance types, SSH keys, instances.

use std::collections::HashMap;

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{ErrorKind, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Lambda Cloud's API.
pub const DEFAULT_API_URL: &str = "https://cloud.lambdalabs.com/api/v1";

/// A client for one API key.
pub fn client(base_url: &str, api_key: &Secret, http: &HttpSettings) -> RestClient {
    RestClient::new(BackendType::Lambda, base_url, Auth::Bearer(api_key.clone()), http)
        .with_credential_fields(&[&["creds", "api_key"]])
        .with_error_body(error_body)
}

/// Lambda's error body: `{"error": {"code": "...", "message": "...", "suggestion": "..."}}`.
/// Its code tells a launch without capacity (a 400 like any refused request) from the rest.
fn error_body(_status: reqwest::StatusCode, body: &str) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: Option<String>,
        message: Option<String>,
    }
    let detail = serde_json::from_str::<Body>(body).ok()?.error;
    let kind = match detail.code.as_deref() {
        Some("instance-operations/launch/insufficient-capacity") => Some(ErrorKind::NoCapacity),
        Some("global/quota-exceeded") => Some(ErrorKind::QuotaExceeded),
        _ => None,
    };
    let message = detail.message.or(detail.code)?;
    Some(ProviderError { message, kind })
}

/// Every answer's payload is under `data`.
#[derive(Debug, Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
struct InstanceTypeEntry {
    #[serde(default)]
    regions_with_capacity_available: Vec<Named>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

/// Instance type → the regions with capacity now. The cheapest call that needs a valid key:
/// it is also the credential check.
pub async fn capacity(client: &RestClient) -> Result<HashMap<String, Vec<String>>> {
    let types: Data<HashMap<String, InstanceTypeEntry>> = client.get("/instance-types").await?;
    Ok(types
        .data
        .into_iter()
        .map(|(name, entry)| {
            (name, entry.regions_with_capacity_available.into_iter().map(|r| r.name).collect())
        })
        .collect())
}

/// A registered SSH key.
#[derive(Debug, Clone, Deserialize)]
pub struct SshKey {
    pub id: String,
    pub name: String,
}

pub async fn ssh_keys(client: &RestClient) -> Result<Vec<SshKey>> {
    Ok(client.get::<Data<Vec<SshKey>>>("/ssh-keys").await?.data)
}

pub async fn add_ssh_key(client: &RestClient, name: &str, public_key: &str) -> Result<SshKey> {
    let body = json!({"name": name, "public_key": public_key});
    Ok(client.post::<_, Data<SshKey>>("/ssh-keys", &body).await?.data)
}

pub async fn delete_ssh_key(client: &RestClient, id: &str) -> Result<()> {
    client.delete::<Value>(&format!("/ssh-keys/{id}")).await.map(drop)
}

/// `POST /instance-operations/launch`, as dstack sends it.
#[derive(Debug, Serialize)]
pub struct Launch<'a> {
    pub region_name: &'a str,
    pub instance_type_name: &'a str,
    pub ssh_key_names: [&'a str; 1],
    /// dstack attaches no Lambda file systems.
    pub file_system_names: [&'a str; 0],
    pub quantity: u32,
    pub name: &'a str,
}

#[derive(Debug, Deserialize)]
struct Launched {
    instance_ids: Vec<String>,
}

/// Launches one instance; its id.
pub async fn launch(client: &RestClient, request: &Launch<'_>) -> Result<Option<String>> {
    let launched: Data<Launched> = client.post("/instance-operations/launch", request).await?;
    Ok(launched.data.instance_ids.into_iter().next())
}

/// An instance as Lambda shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct Instance {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `booting`, `active`, `unhealthy`, `terminating`, `terminated`, `preempted`.
    pub status: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub region: Option<Named>,
    #[serde(default)]
    pub instance_type: Option<Named>,
}

/// The instance, or `None` when Lambda does not know it.
pub async fn instance(client: &RestClient, id: &str) -> Result<Option<Instance>> {
    match client.get::<Data<Instance>>(&format!("/instances/{id}")).await {
        Ok(found) => Ok(Some(found.data)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// The instances named `name` (a launch whose answer was lost is found by its name).
pub async fn instances_named(client: &RestClient, name: &str) -> Result<Vec<Instance>> {
    let all: Data<Vec<Instance>> = client.get("/instances").await?;
    Ok(all.data.into_iter().filter(|i| i.name.as_deref() == Some(name)).collect())
}

pub async fn terminate(client: &RestClient, id: &str) -> Result<()> {
    let body = json!({"instance_ids": [id]});
    client.post::<_, Value>("/instance-operations/terminate", &body).await.map(drop)
}
