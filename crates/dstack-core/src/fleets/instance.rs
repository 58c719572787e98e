//! What a fleet's new cloud instance stores (`create_fleet_instance_model`,
//! `get_fleet_requirements`, `get_termination`): its `profile` (the merged profile), its
//! `requirements`, and its termination policy and idle time.

use serde_json::{Value, json};

use super::configuration::Placement;
use super::profile::SpotPolicy;
use super::spec::FleetSpec;
use crate::resources::{CpuSpec, DiskSpec, GpuSpec, Memory, Range, Requirements, ResourcesSpec};

/// dstack's `DEFAULT_FLEET_TERMINATION_IDLE_TIME`: 3 days.
pub const DEFAULT_FLEET_IDLE_TIME: i64 = 72 * 60 * 60;

/// `ResourcesSpec.unconstrained()`: what a fleet without `resources` asks of offers.
pub fn unconstrained_resources() -> ResourcesSpec {
    ResourcesSpec {
        cpu: CpuSpec { arch: None, count: Range::at_least(1) },
        memory: Range::at_least(Memory(0.0)),
        shm_size: None,
        gpu: Some(GpuSpec { count: Range::at_least(0), ..GpuSpec::default() }),
        disk: None::<DiskSpec>,
    }
}

/// A fleet's requirements: dstack's `Requirements` with its `backend_options`, which
/// [`Requirements`] does not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRequirements {
    pub requirements: Requirements,
    /// The merged profile's backend options, each as dstack dumps it.
    pub backend_options: Option<Vec<Value>>,
}

impl FleetRequirements {
    /// The JSON of `instances.requirements`, in dstack's field order.
    pub fn to_json(&self) -> Value {
        let r = &self.requirements;
        json!({
            "resources": r.resources,
            "max_price": r.max_price,
            "spot": r.spot,
            "reservation": r.reservation,
            "multinode": r.multinode,
            "backend_options": self.backend_options,
        })
    }
}

/// `instances.termination_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationPolicy {
    DestroyAfterIdle,
    DontDestroy,
}

impl TerminationPolicy {
    /// The value dstack stores and sends: `destroy-after-idle` or `dont-destroy`.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationPolicy::DestroyAfterIdle => "destroy-after-idle",
            TerminationPolicy::DontDestroy => "dont-destroy",
        }
    }
}

/// When an idle instance is terminated: `idle_time` seconds after its last job, or never
/// (`dont-destroy` with `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub policy: TerminationPolicy,
    /// `instances.termination_idle_time`.
    pub idle_time: i64,
}

impl Termination {
    /// `get_termination(profile, default)`: a negative `idle_duration` is off, a set one is
    /// the idle time, none is `default`.
    pub fn from_idle_duration(idle_duration: Option<i64>, default: i64) -> Termination {
        match idle_duration {
            Some(d) if d < 0 => {
                Termination { policy: TerminationPolicy::DontDestroy, idle_time: -1 }
            }
            Some(d) => Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: d },
            None => Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: default },
        }
    }
}

impl FleetSpec {
    /// `get_fleet_requirements`: the configuration's resources (with the GPU default) or
    /// unconstrained ones; price and spot from the merged profile (spot_policy `spot` → only
    /// spot, `on-demand` → only on-demand, `auto` → either); the configuration's
    /// reservation; multinode for cluster placement.
    pub fn requirements(&self) -> FleetRequirements {
        let effective = self.effective();
        let merged = self.merged_profile();
        let conf = &effective.configuration;
        FleetRequirements {
            requirements: Requirements {
                resources: conf.resources.clone().unwrap_or_else(unconstrained_resources),
                max_price: merged.max_price,
                spot: merged.spot_policy.unwrap_or(SpotPolicy::OnDemand).spot(),
                reservation: conf.reservation.clone(),
                multinode: Some(conf.placement == Some(Placement::Cluster)),
            },
            backend_options: merged.backend_options,
        }
    }

    /// The JSON of `instances.profile`: the merged profile.
    pub fn instance_profile_json(&self) -> Value {
        self.merged_profile().to_json()
    }

    /// The termination settings of the fleet's instances (3 days idle by default).
    pub fn termination(&self) -> Termination {
        Termination::from_idle_duration(
            self.merged_profile().idle_duration,
            DEFAULT_FLEET_IDLE_TIME,
        )
    }

    /// `instance_configuration.reservation` of a new instance: the merged profile's.
    pub fn instance_reservation(&self) -> Option<String> {
        self.merged_profile().reservation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_from_idle_duration() {
        let t = |d| Termination::from_idle_duration(d, DEFAULT_FLEET_IDLE_TIME);
        assert_eq!(DEFAULT_FLEET_IDLE_TIME, 259_200);
        assert_eq!(
            t(None),
            Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: 259_200 }
        );
        assert_eq!(
            t(Some(3600)),
            Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: 3600 }
        );
        assert_eq!(
            t(Some(0)),
            Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: 0 }
        );
        assert_eq!(
            t(Some(-1)),
            Termination { policy: TerminationPolicy::DontDestroy, idle_time: -1 }
        );
        assert_eq!(
            t(Some(-5)),
            Termination { policy: TerminationPolicy::DontDestroy, idle_time: -1 }
        );
        assert_eq!(TerminationPolicy::DestroyAfterIdle.as_str(), "destroy-after-idle");
        assert_eq!(TerminationPolicy::DontDestroy.as_str(), "dont-destroy");
    }
}
