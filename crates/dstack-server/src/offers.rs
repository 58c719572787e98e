//! A project's offers: every configured backend is asked in parallel (built once and cached),
//! each within the registry's timeout; one failing backend does not fail the others. Offers are sorted as dstack sorts them
//! (available first, then by price) and capped.

use dstack_core::config::BackendType;
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::resources::Requirements;
use futures::future::join_all;
use serde_json::Value;

use crate::configure;
use crate::error::Result;
use crate::state::AppState;
use crate::store::Project;

/// Where offers may come from: the `backends`, `regions` and `instance_types` of a run's
/// merged profile (the configuration's value where set, else the profile's), as dstack's
/// `get_offers_by_requirements` filters them. `None` is "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    pub backends: Option<Vec<BackendType>>,
    /// Lowercase, as dstack compares them.
    pub regions: Option<Vec<String>>,
    /// Lowercase, as dstack compares them.
    pub instance_types: Option<Vec<String>>,
}

impl Placement {
    /// From a run's merged profile: `setting(key)` is the key's value, the configuration's
    /// where set, else the profile's. Unknown backend names are left out (the request's
    /// schema check refuses them first).
    pub fn from_settings(setting: impl Fn(&str) -> Option<Value>) -> Self {
        let list = |key: &str| {
            setting(key).as_ref().and_then(Value::as_array).map(|items| {
                items.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>()
            })
        };
        let lower = |items: Vec<String>| items.iter().map(|i| i.to_lowercase()).collect();
        Placement {
            backends: list("backends")
                .map(|names| names.iter().filter_map(|n| n.parse().ok()).collect()),
            regions: list("regions").map(lower),
            instance_types: list("instance_types").map(lower),
        }
    }

    fn allows_backend(&self, backend: BackendType) -> bool {
        self.backends.as_ref().is_none_or(|b| b.contains(&backend))
    }

    fn allows(&self, offer: &InstanceOfferWithAvailability) -> bool {
        let listed = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref().is_none_or(|l| l.contains(&value.to_lowercase()))
        };
        self.allows_backend(offer.offer.backend)
            && listed(&self.regions, &offer.offer.region)
            && listed(&self.instance_types, &offer.offer.instance.name)
    }
}

/// All matching offers of the project's backends that `placement` allows, sorted; the
/// caller caps them. Only the allowed backends are asked, each within the registry's offers
/// timeout.
pub async fn project_offers(
    state: &AppState,
    project: &Project,
    requirements: &Requirements,
    placement: &Placement,
) -> Result<Vec<InstanceOfferWithAvailability>> {
    let rows = state.store.backends(&project.id).await?;
    let asks = rows.iter().filter_map(|row| {
        let backend_type = configure::backend_type(row).ok()?;
        if !placement.allows_backend(backend_type) {
            return None;
        }
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
            Ok(found) => offers.extend(found.into_iter().filter(|o| placement.allows(o))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placements_are_read_lowercase_and_known_backends_only() {
        let settings = json!({
            "backends": ["vultr", "nocloud"],
            "regions": ["EWR"],
            "instance_types": ["VC2-1C-1GB"]
        });
        let placement = Placement::from_settings(|key| settings.get(key).cloned());
        assert_eq!(placement.backends, Some(vec![BackendType::Vultr]));
        assert_eq!(placement.regions, Some(vec!["ewr".to_owned()]));
        assert_eq!(placement.instance_types, Some(vec!["vc2-1c-1gb".to_owned()]));
        assert_eq!(Placement::from_settings(|_| None), Placement::default());
    }
}
