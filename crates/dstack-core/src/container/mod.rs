//! The container contract: what a container-based backend (Kubernetes, RunPod, Vast.ai,
//! Daytona, Lium, Slurm) is given to run one job, from dstack's `ComputeWithRunJob.run_job`.
//! dstack does not get a VM on these backends: the job's container is the instance, reached
//! over the runner's own sshd. A backend answers [`crate::Compute::run_job`] with the same
//! [`crate::offers::ProvisioningData`] VM backends answer, refreshed by
//! `update_provisioning_data` and ended by `terminate_instance`.

mod authorized_keys;
mod runner;

pub use authorized_keys::{
    DSTACK_PUBLIC_KEY_MARKER, add_authorized_keys_script, build_authorized_keys,
    normalize_public_key,
};
pub use runner::{RUNNER_BINARY_PATH, runner_commands};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::resources::Requirements;
use crate::secret::Secret;

/// One job to run as a container. Only what the container backends read; each field says
/// which of dstack's it mirrors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfiguration {
    /// `run.project_name`.
    pub project_name: String,
    /// `run.user`: the run's owner, put in the labels of what is created.
    pub user: String,
    /// `job.job_spec.job_name` (`<run>-<job num>-<replica num>`): the name resources are
    /// named after.
    pub job_name: String,
    /// `job.id`: dstack's ID of the job. Names derived from it are the same on every attempt,
    /// so that a retried `run_job` finds what an interrupted one created.
    pub job_id: String,
    /// `job.job_spec.image_name`.
    pub image: String,
    /// `job.job_spec.registry_auth`: credentials for a private image.
    pub registry_auth: Option<RegistryAuth>,
    /// `job.job_spec.privileged`.
    pub privileged: bool,
    /// `job.job_spec.requirements` (and `run_job`'s `requirements` argument): the resources
    /// the container is given. Backends that size containers map them themselves
    /// (Kubernetes: requests and limits).
    pub requirements: Requirements,
    /// `job.job_spec.volumes`' instance mounts: host directories mounted into the container,
    /// on backends that declare `instance_volumes`.
    pub instance_mounts: Vec<InstanceMount>,
    /// `run_job`'s `extra_authorized_keys`: keys authorized besides the project's (normally
    /// the user's). Untrusted: [`build_authorized_keys`] skips those that do not parse.
    pub extra_authorized_keys: Vec<String>,
    /// `run.run_spec.configuration.tags`: put on what is created, besides dstack's own.
    pub tags: Option<IndexMap<String, String>>,
}

/// dstack's `RegistryAuth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryAuth {
    pub username: String,
    pub password: Secret,
}

/// dstack's `InstanceMountPoint`: `instance_path` on the host at `path` in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceMount {
    pub instance_path: String,
    pub path: String,
    /// Whether a missing `instance_path` is created rather than an error.
    #[serde(default)]
    pub optional: bool,
}

/// A name for `job`'s resources: `dstack-<project>-<job name>-<8 characters>` within
/// `max_length` (Kubernetes labels: 63), the suffix derived from the job's ID, so that every
/// attempt to run the job uses the same name (dstack's is random).
pub fn stable_job_name(job: &JobConfiguration, max_length: usize) -> String {
    crate::provisioning::stable_name(&job.project_name, &job.job_name, &job.job_id, max_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> JobConfiguration {
        JobConfiguration {
            project_name: "main".to_owned(),
            user: "admin".to_owned(),
            job_name: "train-0-0".to_owned(),
            job_id: id.to_owned(),
            image: "dstackai/base:0.10".to_owned(),
            registry_auth: None,
            privileged: false,
            requirements: Requirements::default(),
            instance_mounts: Vec::new(),
            extra_authorized_keys: Vec::new(),
            tags: None,
        }
    }

    #[test]
    fn job_names_are_stable_per_job_and_fit_the_limit() {
        let name = stable_job_name(&job("a"), 63);
        assert!(name.starts_with("dstack-main-train-0-0-"), "{name}");
        assert_eq!(name.len(), "dstack-main-train-0-0-".len() + 8);
        assert_eq!(stable_job_name(&job("a"), 63), name, "the same job, the same name");
        assert_ne!(stable_job_name(&job("b"), 63), name, "another job, another name");
        let mut long = job("a");
        long.job_name = "x".repeat(100);
        assert_eq!(stable_job_name(&long, 63).len(), 63);
    }

    #[test]
    fn the_registry_password_is_never_shown() {
        let mut job = job("a");
        job.registry_auth =
            Some(RegistryAuth { username: "me".to_owned(), password: Secret::new("hunter2") });
        assert!(!format!("{job:?}").contains("hunter2"));
    }
}
