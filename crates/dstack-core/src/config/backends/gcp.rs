//! `type: gcp` — Google Cloud Platform. The file form reads the service account key from
//! `filename`; the API form carries it in `data`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Tags, python_list};
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
    /// Whether TPU offers may be suggested besides CPU and GPU VMs (experimental). Defaults
    /// to `false`: since dstack 0.22, TPUs are offered only when this is `true`.
    pub tpu: Option<bool>,
    /// A custom VPC to use instead of `default`. It needs a usable subnet in every region.
    pub vpc_name: Option<String>,
    /// The subnet to use per region, in the VPC named by `vpc_name` (required with this).
    /// Regions not listed use any usable subnet of the VPC; listed regions must be among
    /// `regions`.
    pub subnetworks: Option<IndexMap<String, String>>,
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

/// The regions dstack uses when `regions` is unset (its configurator's `DEFAULT_REGIONS`).
pub const GCP_DEFAULT_REGIONS: [&str; 35] = [
    "northamerica-northeast1",
    "northamerica-northeast2",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
    "southamerica-east1",
    "southamerica-west1",
    "europe-central2",
    "europe-north1",
    "europe-southwest1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "me-west1",
    "australia-southeast1",
    "australia-southeast2",
];

impl<C> GcpBackendConfig<C> {
    /// Whether TPU offers are allowed: `tpu`, `false` when unset.
    pub fn allow_tpu(&self) -> bool {
        self.tpu.unwrap_or(false)
    }

    /// The regions the backend uses: `regions`, or dstack's defaults when unset or empty.
    pub fn effective_regions(&self) -> Vec<&str> {
        match self.regions.as_deref() {
            Some(regions) if !regions.is_empty() => regions.iter().map(String::as_str).collect(),
            _ => GCP_DEFAULT_REGIONS.to_vec(),
        }
    }

    /// The subnet mapped to `region` by `subnetworks`, if any.
    pub fn subnetwork(&self, region: &str) -> Option<&str> {
        self.subnetworks.as_ref()?.get(region).map(String::as_str)
    }

    /// dstack's `subnetworks` rules that need no cloud (its configurator checks them after the
    /// credentials and tags; its answer names no field). An empty map is no map.
    fn subnetwork_problems(&self) -> Vec<super::FieldNote> {
        let Some(subnetworks) = self.subnetworks.as_ref().filter(|s| !s.is_empty()) else {
            return Vec::new();
        };
        let field = vec!["subnetworks".to_owned()];
        if self.vpc_name.is_none() {
            return vec![(
                field,
                "`vpc_name` must be specified when `subnetworks` is configured.".to_owned(),
            )];
        }
        let regions = self.effective_regions();
        let mut unknown: Vec<&str> =
            subnetworks.keys().map(String::as_str).filter(|r| !regions.contains(r)).collect();
        if unknown.is_empty() {
            return Vec::new();
        }
        unknown.sort_unstable();
        vec![(
            field,
            format!(
                "`subnetworks` is configured for regions not in `regions`: {}",
                python_list(unknown)
            ),
        )]
    }
}

impl<C> super::ConfigRules for GcpBackendConfig<C> {
    fn problems(&self) -> Vec<super::FieldNote> {
        let mut problems = super::common::tag_count_problems(self.tags.as_ref());
        problems.extend(self.subnetwork_problems());
        problems
    }
}
