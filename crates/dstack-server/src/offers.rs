//! A project's offers: every configured backend is asked in parallel (built once and cached),
//! each within the registry's timeout; one failing backend does not fail the others. Offers are sorted as dstack sorts them
//! (available first, then by price) and capped.

use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::resources::Requirements;
use futures::future::join_all;

use crate::configure;
use crate::error::Result;
use crate::state::AppState;
use crate::store::Project;

/// All matching offers of the project's backends, sorted; the caller caps them. Each
/// backend lists within the registry's offers timeout.
pub async fn project_offers(
    state: &AppState,
    project: &Project,
    requirements: &Requirements,
) -> Result<Vec<InstanceOfferWithAvailability>> {
    let rows = state.store.backends(&project.id).await?;
    let asks = rows.iter().filter_map(|row| {
        let backend_type = configure::backend_type(row).ok()?;
        let record = match configure::record(row) {
            Ok(record) => record,
            Err(err) => {
                tracing::warn!("Backend {} is skipped for offers: {err}", row.backend_type);
                return None;
            }
        };
        Some(async move {
            let compute =
                state.computes.get(&state.registry, &project.id, backend_type, &record).await;
            let offers = match compute {
                Ok(compute) => compute.offers(requirements).await,
                Err(err) => Err(err),
            };
            (backend_type, offers)
        })
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

/// Available offers first, then by price (stable).
pub fn sort(offers: &mut [InstanceOfferWithAvailability]) {
    offers.sort_by(|a, b| {
        (!a.availability.is_available())
            .cmp(&!b.availability.is_available())
            .then(a.offer.price.total_cmp(&b.offer.price))
    });
}
