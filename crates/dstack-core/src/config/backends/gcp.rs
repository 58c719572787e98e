//! `type: gcp` — Google Cloud Platform. The file form reads the service account key from
//! `filename`; the API form carries it in `data`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Tags;
use crate::config::files::{FileFieldError, fill_data};
use crate::secret::Secret;

/// The GCP backend. `C` is the credentials form: [`GcpFileCreds`] in `config.yml`,
/// [`GcpCreds`] in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GcpBackendConfig_{C}")]
pub struct GcpBackendConfig<C> {
    /// The GCP project ID.
    pub project_id: String,
    /// GCP regions to use. Omit to use all regions dstack supports.
    pub regions: Option<Vec<String>>,
    /// A custom VPC to use instead of `default`. It needs a usable subnet in every region.
    pub vpc_name: Option<String>,
    /// Extra VPCs for multi-NIC instances (GPUDirect); each needs a subnet and a firewall rule
    /// allowing internal traffic.
    pub extra_vpcs: Option<Vec<String>>,
    /// A VPC with the RoCE network profile, for instances with RDMA NICs. At most one.
    #[schemars(length(max = 1))]
    pub roce_vpcs: Option<Vec<String>>,
    /// The host project of a Shared VPC.
    pub vpc_project_id: Option<String>,
    /// Whether instances get public IPs. Defaults to `true`; `false` needs Cloud NAT or another
    /// way out to the internet.
    pub public_ips: Option<bool>,
    /// Whether to check for Cloud NAT when `public_ips` is `false`. Defaults to `true`; set
    /// `false` if outbound traffic goes through something else, such as a NAT appliance.
    pub nat_check: Option<bool>,
    /// Service account attached to the instances.
    pub vm_service_account: Option<String>,
    /// Labels added to every resource dstack creates. At most 25.
    pub tags: Option<Tags>,
    /// Preview features to enable. The only one is `g4`.
    #[schemars(length(max = 1))]
    pub preview_features: Option<Vec<GcpPreviewFeature>>,
    /// The credentials.
    pub creds: C,
}

/// A GCP preview feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GcpPreviewFeature {
    /// G4 instances.
    #[serde(rename = "g4")]
    G4,
}

crate::tagged_union! {
    /// GCP credentials in `config.yml`, chosen by `type`.
    pub enum GcpFileCreds as "credentials type" {
        /// A service account key, read from `filename` unless `data` is given.
        ServiceAccount(GcpServiceAccountFileCreds) = "service_account",
        /// Application Default Credentials on the server host. Refused when
        /// `DSTACK_DEFAULT_CREDS_DISABLED` is set.
        Default = "default",
    }
}

crate::tagged_union! {
    /// GCP credentials in the API, chosen by `type`.
    pub enum GcpCreds as "credentials type" {
        /// A service account key given in `data`.
        ServiceAccount(GcpServiceAccountCreds) = "service_account",
        /// Application Default Credentials on the server host.
        Default = "default",
    }
}

/// A service account key in `config.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcpServiceAccountFileCreds {
    /// Path to the service account's JSON key file on the server host (`~` is expanded).
    /// Required; may be `""` when `data` is given.
    pub filename: String,
    /// The JSON key itself. When set, `filename` is not read.
    pub data: Option<Secret>,
}

/// A service account key in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcpServiceAccountCreds {
    /// The file the key was read from, if any (informational).
    #[serde(default)]
    pub filename: String,
    /// The service account's JSON key.
    pub data: Secret,
}

impl GcpFileCreds {
    /// Reads the key file when needed, giving the API form.
    pub fn resolve(self) -> Result<GcpCreds, FileFieldError> {
        Ok(match self {
            GcpFileCreds::Default => GcpCreds::Default,
            GcpFileCreds::ServiceAccount(sa) => {
                let data = sa.data.map(|d| d.expose().to_owned());
                let data = fill_data(data, &sa.filename, &["creds"], "filename", "data")?;
                GcpCreds::ServiceAccount(GcpServiceAccountCreds {
                    filename: sa.filename,
                    data: Secret::new(data),
                })
            }
        })
    }
}

impl<C> super::ConfigRules for GcpBackendConfig<C> {
    fn problems(&self) -> Vec<super::FieldNote> {
        super::common::tag_count_problems(self.tags.as_ref())
    }
}
