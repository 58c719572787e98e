//! Provisioning on Lambda. Offers and instances come with the offers issue; until then the
//! methods say so with `ErrorKind::Unsupported`.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_core::backend::Capabilities;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{InstanceOfferWithAvailability, Requirements};
use dstack_core::{Backend, BackendError, Compute};

use crate::client::LambdaClient;

#[derive(Debug)]
pub struct LambdaCompute {
    #[allow(dead_code)] // used by offers and instances, which are not implemented yet
    client: LambdaClient,
    #[allow(dead_code)]
    regions: Option<Vec<String>>,
}

impl LambdaCompute {
    /// dstack's feature matrix for Lambda (VM-based).
    pub const CAPABILITIES: Capabilities = Capabilities {
        create_instance: true,
        run_job: false,
        group_provisioning: false,
        privileged: true,
        instance_volumes: true,
        multinode: false,
        placement_groups: false,
        reservations: false,
        gateways: false,
        private_gateways: false,
        volumes: false,
    };

    pub fn new(client: LambdaClient, regions: Option<Vec<String>>) -> Self {
        Self { client, regions }
    }
}

#[async_trait]
impl Compute for LambdaCompute {
    fn backend_type(&self) -> BackendType {
        BackendType::Lambda
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn offers(
        &self,
        _requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        Err(BackendError::unsupported(BackendType::Lambda, "listing offers yet"))
    }

    async fn terminate_instance(
        &self,
        _id: &str,
        _region: &str,
        _data: Option<&str>,
    ) -> Result<()> {
        Err(BackendError::unsupported(BackendType::Lambda, "terminating instances yet"))
    }
}

#[derive(Debug)]
pub struct LambdaBackend {
    compute: Arc<LambdaCompute>,
}

impl LambdaBackend {
    pub fn new(compute: LambdaCompute) -> Self {
        Self { compute: Arc::new(compute) }
    }
}

impl Backend for LambdaBackend {
    fn backend_type(&self) -> BackendType {
        BackendType::Lambda
    }

    fn compute(&self) -> Arc<dyn Compute> {
        self.compute.clone()
    }
}
