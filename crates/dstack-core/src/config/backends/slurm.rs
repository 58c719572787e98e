//! `type: slurm`. The file form can read each cluster's SSH key from `private_key.path`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::files::{FileFieldError, fill_data};
use crate::secret::Secret;

/// The Slurm backend. `K` is [`SlurmPrivateKeyFile`] in `config.yml`, [`SlurmPrivateKey`] in
/// the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SlurmBackendConfig_{K}")]
pub struct SlurmBackendConfig<K> {
    /// The Slurm clusters; each is a region named after the cluster.
    pub clusters: Vec<SlurmCluster<K>>,
}

/// One Slurm cluster, reached over SSH through its login node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SlurmCluster_{K}")]
pub struct SlurmCluster<K> {
    /// The cluster name, used as the region name.
    pub name: String,
    /// Which partitions have which GPU. Only listed partitions get GPU jobs; omit to allow no
    /// GPU jobs.
    pub gpu_partitions: Option<Vec<SlurmGpuPartitions>>,
    /// Partitions for CPU-only jobs. Omit to use every partition without GPUs; `[]` for none.
    pub cpu_partitions: Option<Vec<String>>,
    /// Hostname or IP of the login node.
    pub hostname: String,
    /// SSH port of the login node. Defaults to 22.
    pub port: Option<i64>,
    /// The user to log in as.
    pub user: String,
    /// The user's SSH private key.
    pub private_key: K,
}

/// The partitions that have one GPU model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmGpuPartitions {
    /// The GPU as `[vendor:]name[:memory]`, e.g. `H200`, `A100:40GB`, `nvidia:A100:80GB`.
    pub gpu: String,
    /// The partitions that have this GPU.
    pub partitions: Vec<String>,
}

/// An SSH private key in `config.yml`: read from `path` unless `content` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmPrivateKeyFile {
    /// Path to the private key on the server host (`~` is expanded).
    #[serde(default)]
    pub path: String,
    /// The private key itself. When set, `path` is not read.
    pub content: Option<Secret>,
}

/// An SSH private key in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmPrivateKey {
    /// The file the key was read from, if any (informational).
    #[serde(default)]
    pub path: String,
    /// The private key.
    pub content: Secret,
}

impl SlurmBackendConfig<SlurmPrivateKeyFile> {
    pub fn resolve(self) -> Result<SlurmBackendConfig<SlurmPrivateKey>, FileFieldError> {
        let mut clusters = Vec::with_capacity(self.clusters.len());
        for (i, cluster) in self.clusters.into_iter().enumerate() {
            let key = cluster.private_key;
            let content = key.content.map(|c| c.expose().to_owned());
            let content = fill_data(content, &key.path, &[], "path", "content").map_err(|e| {
                FileFieldError { field: cluster_field(i, e.field), message: e.message }
            })?;
            clusters.push(SlurmCluster {
                name: cluster.name,
                gpu_partitions: cluster.gpu_partitions,
                cpu_partitions: cluster.cpu_partitions,
                hostname: cluster.hostname,
                port: cluster.port,
                user: cluster.user,
                private_key: SlurmPrivateKey { path: key.path, content: Secret::new(content) },
            });
        }
        Ok(SlurmBackendConfig { clusters })
    }
}

/// Field path `clusters[i].private_key.<field>`.
fn cluster_field(i: usize, field: Vec<String>) -> Vec<String> {
    let mut path = vec!["clusters".to_owned(), format!("[{i}]"), "private_key".to_owned()];
    path.extend(field);
    path
}

impl<K> super::ConfigRules for SlurmBackendConfig<K> {}
