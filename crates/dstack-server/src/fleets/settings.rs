//! How the server provisions and watches instances: dstack's variables, and a few of this
//! server's own that shorten dstack's fixed waits (for tests and impatient operators).

use std::time::Duration;

use dstack_core::config::BackendType;
use dstack_core::ssh::SshSettings;

/// Instance processing, as dstack's instance pipeline does it.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// Off with `DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED` (any value): the API only.
    pub background: bool,
    /// `DSTACK_SERVER_MAX_OFFERS_TRIED` (25): offers tried per instance.
    pub max_offers_tried: usize,
    /// How often an instance that is pending, provisioning or terminating is looked at
    /// (dstack: 7 s; idle ones twice that). `DSTACK_SERVER_INSTANCE_PROCESSING_INTERVAL`
    /// (seconds, this server's) shortens it.
    pub interval: Duration,
    /// Replaces every backend's provisioning timeout (dstack's per-backend values, see
    /// [`provisioning_timeout`]): `DSTACK_SERVER_PROVISIONING_TIMEOUT` (seconds, this
    /// server's).
    pub provisioning_timeout: Option<Duration>,
    /// How long a claimed instance stays locked without its server extending the lock: what a
    /// crashed server delays its instances by.
    pub lock_timeout: Duration,
    /// SSH to instances: the shim's port (`DSTACK_SHIM_HTTP_PORT`, dstack's 10998) and an
    /// address override (`DSTACK_SERVER_INSTANCE_SSH_HOST` and `_PORT`, this server's: every
    /// instance reached through one port-forwarding bastion, or a test `sshd`).
    pub ssh: SshSettings,
}

impl Default for FleetSettings {
    fn default() -> Self {
        FleetSettings {
            background: true,
            max_offers_tried: 25,
            interval: Duration::from_secs(7),
            provisioning_timeout: None,
            lock_timeout: Duration::from_secs(30),
            ssh: SshSettings::default(),
        }
    }
}

impl FleetSettings {
    /// From the environment (`var` returns a variable's non-empty value).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut settings = FleetSettings::default();
        let seconds = |name: &str| -> Result<Option<Duration>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| {
                            format!("{name} must be a positive number of seconds, not {v:?}")
                        })
                })
                .transpose()
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name} must be a whole number, not {v:?}"))
                })
                .transpose()
        };
        settings.background = var("DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED").is_none();
        if let Some(tried) = number("DSTACK_SERVER_MAX_OFFERS_TRIED")? {
            settings.max_offers_tried = tried as usize;
        }
        if let Some(interval) = seconds("DSTACK_SERVER_INSTANCE_PROCESSING_INTERVAL")? {
            settings.interval = interval;
        }
        settings.provisioning_timeout = seconds("DSTACK_SERVER_PROVISIONING_TIMEOUT")?;
        if let Some(port) = number("DSTACK_SHIM_HTTP_PORT")? {
            settings.ssh.shim_port = u16::try_from(port)
                .map_err(|_| "DSTACK_SHIM_HTTP_PORT is not a port".to_owned())?;
        }
        settings.ssh.instance_host = var("DSTACK_SERVER_INSTANCE_SSH_HOST");
        if let Some(port) = number("DSTACK_SERVER_INSTANCE_SSH_PORT")? {
            let port = u16::try_from(port)
                .map_err(|_| "DSTACK_SERVER_INSTANCE_SSH_PORT is not a port".to_owned())?;
            settings.ssh.instance_port = Some(port);
        }
        Ok(settings)
    }

    /// How long an instance of `backend` may take to become reachable.
    pub fn provisioning_timeout(&self, backend: BackendType, instance_type: &str) -> Duration {
        self.provisioning_timeout.unwrap_or_else(|| provisioning_timeout(backend, instance_type))
    }
}

/// dstack's provisioning timeouts (`get_provisioning_timeout`): slower clouds get longer.
pub fn provisioning_timeout(backend: BackendType, instance_type: &str) -> Duration {
    let minutes = match backend {
        BackendType::Lambda | BackendType::Cloudrift => 30,
        BackendType::Runpod
        | BackendType::Daytona
        | BackendType::Seeweb
        | BackendType::Kubernetes
        | BackendType::Slurm => 20,
        BackendType::Oci if instance_type.starts_with("BM.") => 20,
        BackendType::Vultr if instance_type.starts_with("vbm") => 55,
        BackendType::Gcp if instance_type == "a4-highgpu-8g" => 16,
        _ => 10,
    };
    Duration::from_secs(minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_dstacks_unless_shortened() {
        let minutes = |b, t| provisioning_timeout(b, t).as_secs() / 60;
        assert_eq!(minutes(BackendType::Lambda, "gpu_1x_a100"), 30);
        assert_eq!(minutes(BackendType::Vultr, "vbm-8c-132gb"), 55);
        assert_eq!(minutes(BackendType::Vultr, "vc2-1c-1gb"), 10);
        assert_eq!(minutes(BackendType::Oci, "BM.GPU4.8"), 20);
        assert_eq!(minutes(BackendType::Aws, "p5.48xlarge"), 10);
        let vars = |name: &str| match name {
            "DSTACK_SERVER_PROVISIONING_TIMEOUT" => Some("3".to_owned()),
            "DSTACK_SHIM_HTTP_PORT" => Some("20998".to_owned()),
            "DSTACK_SERVER_BACKGROUND_PROCESSING_DISABLED" => Some("0".to_owned()),
            _ => None,
        };
        let settings = FleetSettings::from_vars(vars).unwrap();
        assert_eq!(settings.provisioning_timeout(BackendType::Lambda, "x"), Duration::from_secs(3));
        assert_eq!(settings.ssh.shim_port, 20998);
        assert!(!settings.background, "dstack's flag: any value turns it off");
        let bad = FleetSettings::from_vars(|n| {
            (n == "DSTACK_SERVER_MAX_OFFERS_TRIED").then(|| "many".to_owned())
        });
        assert_eq!(
            bad.unwrap_err(),
            "DSTACK_SERVER_MAX_OFFERS_TRIED must be a whole number, not \"many\""
        );
    }
}
