//! Backend configs: every backend type dstack knows, in its `config.yml` ("file") form and its
//! API form, and the conversion from one to the other.

pub mod aws;
pub mod azure;
mod backend_type;
pub mod common;
pub mod gcp;
pub mod kubernetes;
mod model;
pub mod nebius;
pub mod oci;
pub mod simple;
pub mod slurm;

pub use aws::*;
pub use azure::*;
pub use backend_type::{BackendStatus, BackendType, UnknownBackendType};
pub use common::*;
pub use gcp::*;
pub use kubernetes::*;
pub use model::{BackendConfigModel, ConfigRules};
pub use nebius::*;
pub use oci::*;
pub use simple::*;
pub use slurm::*;

use super::files::FileFieldError;

/// A note about one field of a backend entry: its path relative to the entry, and the text.
pub type FieldNote = (Vec<String>, String);

crate::tagged_union! {
    /// A backend entry of `config.yml`, chosen by `type`.
    pub enum BackendFileConfig as "backend type" {
        /// AMD Developer Cloud.
        Amddevcloud(DigitalOceanBackendConfig) = "amddevcloud",
        /// Amazon Web Services.
        Aws(AwsBackendConfig) = "aws",
        /// Microsoft Azure.
        Azure(AzureBackendConfig) = "azure",
        /// CloudRift.
        Cloudrift(CloudRiftBackendConfig) = "cloudrift",
        /// Crusoe.
        Crusoe(CrusoeBackendConfig) = "crusoe",
        /// Cudo (removed from dstack; parses, then is skipped).
        Cudo(CudoBackendConfig) = "cudo",
        /// DataCrunch, the former name of Verda (deprecated; use `verda`).
        Datacrunch(VerdaBackendConfig) = "datacrunch",
        /// Daytona: GPU and CPU sandboxes.
        Daytona(DaytonaBackendConfig) = "daytona",
        /// DigitalOcean.
        Digitalocean(DigitalOceanBackendConfig) = "digitalocean",
        /// Google Cloud Platform.
        Gcp(GcpBackendConfig<GcpFileCreds>) = "gcp",
        /// Hot Aisle.
        Hotaisle(HotAisleBackendConfig) = "hotaisle",
        /// JarvisLabs.
        Jarvislabs(JarvisLabsBackendConfig) = "jarvislabs",
        /// Kubernetes.
        Kubernetes(KubernetesBackendConfig<KubeconfigFile>) = "kubernetes",
        /// Lambda Cloud.
        Lambda(LambdaBackendConfig) = "lambda",
        /// Lium: GPU pods.
        Lium(LiumBackendConfig) = "lium",
        /// Nebius AI Cloud.
        Nebius(NebiusBackendConfig<NebiusFileCreds>) = "nebius",
        /// Oracle Cloud Infrastructure.
        Oci(OciBackendConfig) = "oci",
        /// Runpod.
        Runpod(RunpodBackendConfig) = "runpod",
        /// Seeweb Cloud Server GPU.
        Seeweb(SeewebBackendConfig) = "seeweb",
        /// Slurm.
        Slurm(SlurmBackendConfig<SlurmPrivateKeyFile>) = "slurm",
        /// TensorDock (deprecated in dstack; parses, then is skipped).
        Tensordock(TensorDockBackendConfig) = "tensordock",
        /// Vast.ai.
        Vastai(VastAiBackendConfig) = "vastai",
        /// Verda (formerly DataCrunch).
        Verda(VerdaBackendConfig) = "verda",
        /// Vultr.
        Vultr(VultrBackendConfig) = "vultr",
    }
}

crate::tagged_union! {
    /// A backend config with its credentials, as the API takes and returns it to project
    /// admins, and as the server stores it.
    pub enum BackendConfigWithCreds as "backend type" {
        /// AMD Developer Cloud.
        Amddevcloud(DigitalOceanBackendConfig) = "amddevcloud",
        /// Amazon Web Services.
        Aws(AwsBackendConfig) = "aws",
        /// Microsoft Azure.
        Azure(AzureBackendConfig) = "azure",
        /// CloudRift.
        Cloudrift(CloudRiftBackendConfig) = "cloudrift",
        /// Crusoe.
        Crusoe(CrusoeBackendConfig) = "crusoe",
        /// Cudo (removed).
        Cudo(CudoBackendConfig) = "cudo",
        /// DataCrunch (deprecated alias of Verda).
        Datacrunch(VerdaBackendConfig) = "datacrunch",
        /// Daytona.
        Daytona(DaytonaBackendConfig) = "daytona",
        /// DigitalOcean.
        Digitalocean(DigitalOceanBackendConfig) = "digitalocean",
        /// dstack Sky.
        Dstack(DstackBackendConfig) = "dstack",
        /// Google Cloud Platform.
        Gcp(GcpBackendConfig<GcpCreds>) = "gcp",
        /// Hot Aisle.
        Hotaisle(HotAisleBackendConfig) = "hotaisle",
        /// JarvisLabs.
        Jarvislabs(JarvisLabsBackendConfig) = "jarvislabs",
        /// Kubernetes.
        Kubernetes(KubernetesBackendConfig<Kubeconfig>) = "kubernetes",
        /// Lambda Cloud.
        Lambda(LambdaBackendConfig) = "lambda",
        /// Lium: GPU pods.
        Lium(LiumBackendConfig) = "lium",
        /// Nebius AI Cloud.
        Nebius(NebiusBackendConfig<NebiusCreds>) = "nebius",
        /// Oracle Cloud Infrastructure.
        Oci(OciBackendConfig) = "oci",
        /// Runpod.
        Runpod(RunpodBackendConfig) = "runpod",
        /// Seeweb Cloud Server GPU.
        Seeweb(SeewebBackendConfig) = "seeweb",
        /// Slurm.
        Slurm(SlurmBackendConfig<SlurmPrivateKey>) = "slurm",
        /// TensorDock (deprecated).
        Tensordock(TensorDockBackendConfig) = "tensordock",
        /// Vast.ai.
        Vastai(VastAiBackendConfig) = "vastai",
        /// Verda.
        Verda(VerdaBackendConfig) = "verda",
        /// Vultr.
        Vultr(VultrBackendConfig) = "vultr",
    }
}

fn backend_type_of(tag: &str) -> BackendType {
    // Every union tag is a backend type name; the unions are built from them.
    tag.parse().unwrap_or(BackendType::Remote)
}

impl BackendFileConfig {
    pub fn backend_type(&self) -> BackendType {
        backend_type_of(self.tag())
    }

    /// Resolves the file form into the API form: reads the files the entry names (on this
    /// host, `~` expanded) and turns deprecated spellings into current ones. Returns the
    /// API form and deprecation warnings, each with the field it concerns.
    pub fn resolve(self) -> Result<(BackendConfigWithCreds, Vec<FieldNote>), FileFieldError> {
        use BackendConfigWithCreds as Api;
        use BackendFileConfig as File;
        let mut warnings = Vec::new();
        let resolved = match self {
            File::Amddevcloud(c) => Api::Amddevcloud(c),
            File::Aws(c) => Api::Aws(c),
            File::Azure(c) => Api::Azure(c),
            File::Cloudrift(c) => Api::Cloudrift(c),
            File::Crusoe(c) => Api::Crusoe(c),
            File::Cudo(c) => {
                warnings.push(type_warning(
                    "the `cudo` backend was removed from dstack; this entry is skipped",
                ));
                Api::Cudo(c)
            }
            File::Datacrunch(c) => {
                warnings.push(type_warning("`type: datacrunch` is deprecated; use `type: verda`"));
                Api::Datacrunch(c)
            }
            File::Daytona(c) => Api::Daytona(c),
            File::Digitalocean(c) => Api::Digitalocean(c),
            File::Gcp(c) => {
                let creds = c.creds.resolve()?;
                Api::Gcp(GcpBackendConfig {
                    project_id: c.project_id,
                    regions: c.regions,
                    tpu: c.tpu,
                    vpc_name: c.vpc_name,
                    subnetworks: c.subnetworks,
                    extra_vpcs: c.extra_vpcs,
                    roce_vpcs: c.roce_vpcs,
                    vpc_project_id: c.vpc_project_id,
                    public_ips: c.public_ips,
                    nat_check: c.nat_check,
                    vm_service_account: c.vm_service_account,
                    tags: c.tags,
                    preview_features: c.preview_features,
                    creds,
                })
            }
            File::Hotaisle(c) => Api::Hotaisle(c),
            File::Jarvislabs(c) => Api::Jarvislabs(c),
            File::Kubernetes(mut c) => {
                if let Some(warning) = c.normalize_networking()? {
                    warnings.push((vec!["networking".to_owned()], warning));
                }
                if c.namespace.is_some() {
                    warnings.push((
                        vec!["namespace".to_owned()],
                        "`namespace` is deprecated; set the namespace in the kubeconfig context"
                            .to_owned(),
                    ));
                }
                Api::Kubernetes(KubernetesBackendConfig {
                    contexts: c.contexts,
                    proxy_jump: c.proxy_jump,
                    namespace: c.namespace,
                    kubeconfig: c.kubeconfig.resolve()?,
                    networking: None,
                })
            }
            File::Lambda(c) => Api::Lambda(c),
            File::Lium(c) => Api::Lium(c),
            File::Nebius(c) => Api::Nebius(NebiusBackendConfig {
                projects: c.projects,
                regions: c.regions,
                fabrics: c.fabrics,
                tags: c.tags,
                creds: c.creds.resolve()?,
            }),
            File::Oci(c) => Api::Oci(c),
            File::Runpod(c) => Api::Runpod(c),
            File::Seeweb(c) => Api::Seeweb(c),
            File::Slurm(c) => Api::Slurm(c.resolve()?),
            File::Tensordock(c) => {
                warnings.push(type_warning(
                    "the `tensordock` backend is deprecated in dstack; this entry is skipped",
                ));
                Api::Tensordock(c)
            }
            File::Vastai(c) => Api::Vastai(c),
            File::Verda(c) => Api::Verda(c),
            File::Vultr(c) => Api::Vultr(c),
        };
        Ok((resolved, warnings))
    }
}

fn type_warning(message: &str) -> FieldNote {
    (vec!["type".to_owned()], message.to_owned())
}

impl BackendConfigWithCreds {
    pub fn backend_type(&self) -> BackendType {
        backend_type_of(self.tag())
    }

    /// Whether the config uses the server host's default credentials (`creds: {type:
    /// default}`), which `DSTACK_DEFAULT_CREDS_DISABLED` forbids.
    pub fn uses_default_creds(&self) -> bool {
        match self {
            BackendConfigWithCreds::Aws(c) => matches!(c.creds, AwsCreds::Default),
            BackendConfigWithCreds::Azure(c) => matches!(c.creds, AzureCreds::Default),
            BackendConfigWithCreds::Gcp(c) => matches!(c.creds, GcpCreds::Default),
            BackendConfigWithCreds::Oci(c) => matches!(c.creds, OciCreds::Default(_)),
            _ => false,
        }
    }

    /// The view of this config that non-admins may see: the same JSON without credentials.
    /// Kubernetes drops its `kubeconfig`; Slurm keeps only each cluster's name and partitions.
    pub fn without_creds(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.shift_remove("creds");
            object.shift_remove("kubeconfig");
            if let Some(clusters) = object.get_mut("clusters").and_then(|c| c.as_array_mut()) {
                for cluster in clusters.iter_mut().filter_map(|c| c.as_object_mut()) {
                    cluster.retain(|key, _| {
                        matches!(key.as_str(), "name" | "gpu_partitions" | "cpu_partitions")
                    });
                }
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_union_tag_is_a_backend_type() {
        for tag in BackendFileConfig::TAGS.iter().chain(BackendConfigWithCreds::TAGS) {
            assert!(tag.parse::<BackendType>().is_ok(), "{tag}");
        }
        // dstack 0.22.5: config.yml takes 24 tags; the API adds `dstack`.
        assert_eq!(BackendFileConfig::TAGS.len(), 24);
        assert_eq!(BackendConfigWithCreds::TAGS.len(), 25);
        let api_only: Vec<&&str> = BackendConfigWithCreds::TAGS
            .iter()
            .filter(|t| !BackendFileConfig::TAGS.contains(t))
            .collect();
        assert_eq!(api_only, [&"dstack"]);
    }
}
