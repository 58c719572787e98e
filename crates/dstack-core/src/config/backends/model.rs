//! What the backend kit needs of each backend's config struct: its place in the API union
//! (written once here, for every struct, rather than once per backend crate) and its own
//! rules, which `config check` reports and the configurator enforces.

use super::*;

/// dstack's rules about a config that need no cloud. Each config struct implements it in its
/// own file, beside its fields; most have none.
pub trait ConfigRules {
    /// Each broken rule: the field path (relative to the backend entry) and dstack's text.
    fn problems(&self) -> Vec<FieldNote> {
        Vec::new()
    }
}

/// A backend's config struct as a variant of [`BackendConfigWithCreds`].
pub trait BackendConfigModel:
    ConfigRules + Clone + Send + Sync + std::fmt::Debug + 'static
{
    /// This struct out of the union, if the union holds one.
    fn from_union(config: &BackendConfigWithCreds) -> Option<&Self>;

    /// The union of this struct, as a config of `backend_type` (a struct may serve two
    /// types: `digitalocean` and `amddevcloud`, `verda` and `datacrunch`).
    fn into_union(self, backend_type: BackendType) -> BackendConfigWithCreds;
}

/// Implements [`BackendConfigModel`] for a struct and the union variants that hold it; the
/// first variant is used for types it does not list.
macro_rules! config_model {
    ($ty:ty => $first:ident $(| $other:ident)*) => {
        impl BackendConfigModel for $ty {
            fn from_union(config: &BackendConfigWithCreds) -> Option<&Self> {
                match config {
                    BackendConfigWithCreds::$first(c) $(| BackendConfigWithCreds::$other(c))* => Some(c),
                    _ => None,
                }
            }

            fn into_union(self, backend_type: BackendType) -> BackendConfigWithCreds {
                match backend_type {
                    $(BackendType::$other => BackendConfigWithCreds::$other(self),)*
                    _ => BackendConfigWithCreds::$first(self),
                }
            }
        }
    };
}

config_model!(DigitalOceanBackendConfig => Digitalocean | Amddevcloud);
config_model!(AwsBackendConfig => Aws);
config_model!(AzureBackendConfig => Azure);
config_model!(CloudRiftBackendConfig => Cloudrift);
config_model!(CrusoeBackendConfig => Crusoe);
config_model!(CudoBackendConfig => Cudo);
config_model!(VerdaBackendConfig => Verda | Datacrunch);
config_model!(DaytonaBackendConfig => Daytona);
config_model!(DstackBackendConfig => Dstack);
config_model!(GcpBackendConfig<GcpCreds> => Gcp);
config_model!(HotAisleBackendConfig => Hotaisle);
config_model!(JarvisLabsBackendConfig => Jarvislabs);
config_model!(KubernetesBackendConfig<Kubeconfig> => Kubernetes);
config_model!(LambdaBackendConfig => Lambda);
config_model!(LiumBackendConfig => Lium);
config_model!(NebiusBackendConfig<NebiusCreds> => Nebius);
config_model!(OciBackendConfig => Oci);
config_model!(RunpodBackendConfig => Runpod);
config_model!(SeewebBackendConfig => Seeweb);
config_model!(SlurmBackendConfig<SlurmPrivateKey> => Slurm);
config_model!(TensorDockBackendConfig => Tensordock);
config_model!(VastAiBackendConfig => Vastai);
config_model!(VultrBackendConfig => Vultr);

impl BackendConfigWithCreds {
    /// The config's own rules (its struct's [`ConfigRules`]).
    pub fn problems(&self) -> Vec<FieldNote> {
        use BackendConfigWithCreds as C;
        match self {
            C::Amddevcloud(c) | C::Digitalocean(c) => c.problems(),
            C::Aws(c) => c.problems(),
            C::Azure(c) => c.problems(),
            C::Cloudrift(c) => c.problems(),
            C::Crusoe(c) => c.problems(),
            C::Cudo(c) => c.problems(),
            C::Datacrunch(c) | C::Verda(c) => c.problems(),
            C::Daytona(c) => c.problems(),
            C::Dstack(c) => c.problems(),
            C::Gcp(c) => c.problems(),
            C::Hotaisle(c) => c.problems(),
            C::Jarvislabs(c) => c.problems(),
            C::Kubernetes(c) => c.problems(),
            C::Lambda(c) => c.problems(),
            C::Lium(c) => c.problems(),
            C::Nebius(c) => c.problems(),
            C::Oci(c) => c.problems(),
            C::Runpod(c) => c.problems(),
            C::Seeweb(c) => c.problems(),
            C::Slurm(c) => c.problems(),
            C::Tensordock(c) => c.problems(),
            C::Vastai(c) => c.problems(),
            C::Vultr(c) => c.problems(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> BackendConfigWithCreds {
        crate::config::load::from_json(&json).unwrap()
    }

    #[test]
    fn a_struct_serving_two_types_keeps_the_type() {
        let verda = config(serde_json::json!({
            "type": "datacrunch", "creds": {"client_id": "i", "client_secret": "s"}
        }));
        let typed = VerdaBackendConfig::from_union(&verda).unwrap().clone();
        assert_eq!(typed.clone().into_union(BackendType::Datacrunch), verda);
        assert_eq!(typed.into_union(BackendType::Verda).backend_type(), BackendType::Verda);
        assert!(AwsBackendConfig::from_union(&verda).is_none());
    }
}
