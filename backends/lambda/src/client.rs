//! Calls to Lambda Cloud's API (`https://cloud.lambdalabs.com/api/v1`).

use dstack_core::Secret;
use dstack_core::error::Result;

use crate::error::from_response;

/// Lambda Cloud's API.
pub const DEFAULT_API_URL: &str = "https://cloud.lambdalabs.com/api/v1";

/// A client for one API key.
#[derive(Debug, Clone)]
pub struct LambdaClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
}

impl LambdaClient {
    pub fn new(base_url: &str, api_key: Secret) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self { http, base_url: base_url.trim_end_matches('/').to_owned(), api_key }
    }

    /// Region names with capacity now, per instance type (`regions_with_capacity_available`).
    pub async fn capacity(&self) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let body = self.instance_types().await?;
        let mut capacity = std::collections::HashMap::new();
        for (name, details) in body["data"].as_object().into_iter().flatten() {
            let regions = details["regions_with_capacity_available"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["name"].as_str().map(str::to_owned))
                .collect();
            capacity.insert(name.clone(), regions);
        }
        Ok(capacity)
    }

    /// `GET /instance-types`: the cheapest call that needs a valid key.
    pub async fn instance_types(&self) -> Result<serde_json::Value> {
        let response = self
            .http
            .get(format!("{}/instance-types", self.base_url))
            .bearer_auth(self.api_key.expose())
            .send()
            .await
            .map_err(crate::error::from_transport)?;
        let response = from_response(response).await?;
        response.json().await.map_err(crate::error::from_transport)
    }
}
