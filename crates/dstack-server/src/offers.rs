//! A project's offers: every configured backend is asked in parallel, each within a timeout;
//! one failing backend does not fail the others. Offers are sorted as dstack sorts them
//! (available first, then by price) and capped.

use std::time::Duration;

use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::resources::Requirements;
use dstack_core::{BackendRecord, Configurator};
use futures::future::join_all;

use crate::state::AppState;
use crate::store::Project;

/// How long one backend may take to list offers.
pub const OFFERS_TIMEOUT: Duration = Duration::from_secs(30);

/// All matching offers of the project's backends, sorted; the caller caps them.
pub async fn project_offers(
    state: &AppState,
    project: &Project,
    requirements: &Requirements,
) -> Result<Vec<InstanceOfferWithAvailability>, crate::api::error::ApiError> {
    let rows = state.store.backends(&project.id).await?;
    let asks = rows.into_iter().filter_map(|row| {
        let backend_type = row.backend_type.parse().ok()?;
        let configurator = state.registry.get(backend_type).ok()?.clone();
        let auth = match row.auth.clone() {
            Ok(auth) => auth,
            Err(err) => {
                tracing::warn!("Backend {} is skipped for offers: {err}", row.backend_type);
                return None;
            }
        };
        let record = BackendRecord { config: row.config.clone(), auth };
        Some(async move { (backend_type, ask(configurator, record, requirements).await) })
    });
    let mut offers = Vec::new();
    for (backend_type, result) in join_all(asks).await {
        match result {
            Ok(found) => offers.extend(found),
            Err(err) => tracing::warn!("No offers from backend {backend_type}: {err}"),
        }
    }
    sort(&mut offers);
    Ok(offers)
}

async fn ask(
    configurator: std::sync::Arc<dyn Configurator>,
    record: BackendRecord,
    requirements: &Requirements,
) -> Result<Vec<InstanceOfferWithAvailability>, String> {
    let backend = configurator.backend(&record).await.map_err(|e| e.to_string())?;
    let compute = backend.compute();
    match tokio::time::timeout(OFFERS_TIMEOUT, compute.offers(requirements)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {}s", OFFERS_TIMEOUT.as_secs())),
    }
}

/// Available offers first, then by price (stable).
pub fn sort(offers: &mut [InstanceOfferWithAvailability]) {
    offers.sort_by(|a, b| {
        (!a.availability.is_available())
            .cmp(&!b.availability.is_available())
            .then(a.offer.price.total_cmp(&b.offer.price))
    });
}
