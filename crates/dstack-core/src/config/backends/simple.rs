//! Backends configured with regions and an API key (or access key): the GPU clouds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    AccessKeyCreds, ApiKeyCreds, ApiKeyTag, ApiTokenCreds, NonEmptyApiKeyCreds, python_list,
};
use crate::secret::Secret;

/// The Lambda Cloud backend (`type: lambda`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaBackendConfig {
    /// Lambda regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Lambda API key.
    pub creds: ApiKeyCreds,
}

/// The Runpod backend (`type: runpod`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunpodBackendConfig {
    /// Runpod regions to use: Secure Cloud datacenter IDs such as `CA-MTL-3`, Community Cloud
    /// country codes such as `CA`. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// Whether to offer Community Cloud machines as well as Secure Cloud ones. Defaults to
    /// `false`.
    pub community_cloud: Option<bool>,
    /// The Runpod API key.
    pub creds: ApiKeyCreds,
}

/// The Vast.ai backend (`type: vastai`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VastAiBackendConfig {
    /// Vast.ai regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// Whether to offer Community Cloud machines as well as Secure Cloud (datacenter) ones.
    /// Defaults to `true`.
    pub community_cloud: Option<bool>,
    /// The Vast.ai API key.
    pub creds: ApiKeyCreds,
}

/// The Verda backend (`type: verda`, or the deprecated `type: datacrunch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdaBackendConfig {
    /// Verda regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Verda OAuth client credentials.
    pub creds: VerdaCreds,
}

/// Verda OAuth client credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdaCreds {
    /// The type of credentials. Always `api_key`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ApiKeyTag,
    /// The OAuth client ID.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
}

/// The DigitalOcean backend (`type: digitalocean`) and the AMD Developer Cloud backend
/// (`type: amddevcloud`), which share DigitalOcean's API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DigitalOceanBackendConfig {
    /// The project to create resources in. Omit to use the account's default project.
    pub project_name: Option<String>,
    /// Regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The API token.
    pub creds: ApiKeyCreds,
}

/// The Hot Aisle backend (`type: hotaisle`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HotAisleBackendConfig {
    /// The Hot Aisle team handle.
    pub team_handle: String,
    /// Hot Aisle regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// Whether bare-metal offers (such as `bm-mi300x-8`) may be suggested besides VMs
    /// (experimental). Defaults to `false`.
    pub bare_metal: Option<bool>,
    /// The Hot Aisle API key.
    pub creds: ApiKeyCreds,
}

impl HotAisleBackendConfig {
    /// Whether bare-metal offers are allowed: `bare_metal`, `false` when unset.
    pub fn allow_bare_metal(&self) -> bool {
        self.bare_metal.unwrap_or(false)
    }
}

/// The CloudRift backend (`type: cloudrift`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudRiftBackendConfig {
    /// CloudRift regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The CloudRift API key.
    pub creds: ApiKeyCreds,
}

/// The Vultr backend (`type: vultr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VultrBackendConfig {
    /// Vultr regions to use. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Vultr API key.
    pub creds: ApiKeyCreds,
}

/// The JarvisLabs backend (`type: jarvislabs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JarvisLabsBackendConfig {
    /// JarvisLabs regions to use (`india-01`, `india-chennai-01`, `india-noida-01`,
    /// `europe-01`). Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The JarvisLabs API key.
    pub creds: ApiKeyCreds,
}

/// The Crusoe backend (`type: crusoe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrusoeBackendConfig {
    /// The Crusoe project ID.
    pub project_id: String,
    /// Crusoe regions to use, such as `us-east1-a`. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Crusoe API access key and secret key (the secret key signs requests).
    pub creds: AccessKeyCreds,
}

/// The Daytona backend (`type: daytona`): GPU and CPU sandboxes, run as containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaytonaBackendConfig {
    /// Daytona regions to use. GPU sandboxes run in `earth`; CPU sandboxes in shared regions
    /// such as `us` and `eu`. Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Daytona API key. It needs the permissions `write:sandboxes`, `delete:sandboxes`
    /// and `read:limits`.
    pub creds: NonEmptyApiKeyCreds,
}

/// The Lium backend (`type: lium`): GPU pods, run as containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiumBackendConfig {
    /// Lium regions to use, such as `us-ca` or `de-he` (lowercase
    /// `<country>[-<subdivision>]`). Omit to use all.
    pub regions: Option<Vec<String>>,
    /// The Lium API key.
    pub creds: NonEmptyApiKeyCreds,
}

/// The Seeweb Cloud Server GPU backend (`type: seeweb`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeewebBackendConfig {
    /// Seeweb regions to use, such as `it-mi2`, `it-fr2`, `ch-lug1` or `hr-zag1`. Omit to use
    /// all.
    pub regions: Option<Vec<String>>,
    /// The Seeweb ECS API token (`type: api_token`, not `api_key`).
    pub creds: ApiTokenCreds,
}

/// The Cudo backend (`type: cudo`). Removed from dstack: such an entry still parses, and the
/// server skips it as "not available".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CudoBackendConfig {
    /// Cudo regions to use.
    pub regions: Option<Vec<String>>,
    /// The Cudo project ID.
    pub project_id: String,
    /// The Cudo API key.
    pub creds: ApiKeyCreds,
}

/// The TensorDock backend (`type: tensordock`). Deprecated in dstack: such an entry still
/// parses, and the server skips it as "not available".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TensorDockBackendConfig {
    /// TensorDock regions to use.
    pub regions: Option<Vec<String>>,
    /// The TensorDock API key and token.
    pub creds: TensorDockCreds,
}

/// TensorDock credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TensorDockCreds {
    /// The type of credentials. Always `api_key`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ApiKeyTag,
    /// The API key.
    pub api_key: Secret,
    /// The API token.
    pub api_token: Secret,
}

/// The dstack Sky backend (`type: dstack`): API only, never in `config.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DstackBackendConfig {
    /// The backends dstack Sky provides.
    pub base_backends: Vec<String>,
}

/// The JarvisLabs regions dstack knows (gpuhunt 0.1.34's `JARVISLABS_REGION_URLS`).
pub const JARVISLABS_REGIONS: [&str; 4] =
    ["india-01", "india-chennai-01", "india-noida-01", "europe-01"];

impl super::ConfigRules for JarvisLabsBackendConfig {
    fn problems(&self) -> Vec<super::FieldNote> {
        let mut unknown: Vec<&str> = self
            .regions
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|r| !JARVISLABS_REGIONS.contains(r))
            .collect();
        if unknown.is_empty() {
            return Vec::new();
        }
        // dstack sorts both lists and drops repeats (it compares sets).
        unknown.sort_unstable();
        unknown.dedup();
        let mut supported = JARVISLABS_REGIONS;
        supported.sort_unstable();
        vec![(
            vec!["regions".to_owned()],
            format!(
                "Unsupported JarvisLabs regions: {}. Supported regions: {}. \
                 JarvisLabs does not expose provisioning endpoint discovery.",
                python_list(unknown),
                python_list(supported)
            ),
        )]
    }
}

/// Backends whose configs have no rules of their own.
macro_rules! no_rules {
    ($($ty:ty),* $(,)?) => {$(impl super::ConfigRules for $ty {})*};
}

no_rules!(
    LambdaBackendConfig,
    RunpodBackendConfig,
    VastAiBackendConfig,
    VerdaBackendConfig,
    DigitalOceanBackendConfig,
    HotAisleBackendConfig,
    CloudRiftBackendConfig,
    VultrBackendConfig,
    CrusoeBackendConfig,
    CudoBackendConfig,
    TensorDockBackendConfig,
    DstackBackendConfig,
    // Daytona checks its regions against its API; Lium and Seeweb do not check theirs.
    DaytonaBackendConfig,
    LiumBackendConfig,
    SeewebBackendConfig,
);
