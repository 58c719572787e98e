//! Lambda Cloud's API, as far as the backend uses it.

use std::collections::HashMap;

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::Secret;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use serde::Deserialize;

/// Lambda Cloud's API.
pub const DEFAULT_API_URL: &str = "https://cloud.lambdalabs.com/api/v1";

/// A client for one API key.
pub fn client(base_url: &str, api_key: &Secret, http: &HttpSettings) -> RestClient {
    RestClient::new(BackendType::Lambda, base_url, Auth::Bearer(api_key.clone()), http)
        .with_credential_fields(&[&["creds", "api_key"]])
        .with_error_body(error_body)
}

/// Lambda's error body: `{"error": {"code": "...", "message": "...", "suggestion": "..."}}`.
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
    detail.message.or(detail.code).map(ProviderError::message)
}

/// `GET /instance-types`: every instance type, with the regions that have capacity now.
#[derive(Debug, Deserialize)]
struct InstanceTypes {
    data: HashMap<String, InstanceTypeEntry>,
}

#[derive(Debug, Deserialize)]
struct InstanceTypeEntry {
    #[serde(default)]
    regions_with_capacity_available: Vec<Region>,
}

#[derive(Debug, Deserialize)]
struct Region {
    name: String,
}

/// Instance type → the regions with capacity now. The cheapest call that needs a valid key:
/// it is also the credential check.
pub async fn capacity(client: &RestClient) -> Result<HashMap<String, Vec<String>>> {
    let types: InstanceTypes = client.get("/instance-types").await?;
    Ok(types
        .data
        .into_iter()
        .map(|(name, entry)| {
            (name, entry.regions_with_capacity_available.into_iter().map(|r| r.name).collect())
        })
        .collect())
}
