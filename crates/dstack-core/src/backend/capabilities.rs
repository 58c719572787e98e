//! What a backend can do, declared once in its definition: the registry refuses undeclared
//! operations with a typed `Unsupported`, the conformance suite tests the declared ones, and
//! the server answers from the same declaration.

/// Operations and features of a backend. Mirrors dstack's compute feature matrix; a field is
/// `true` only when this crate implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Creates VMs that run dstack's shim ("VM-based" backends, fleets): `create_instance`,
    /// `update_provisioning_data` and `terminate_instance`.
    pub create_instance: bool,
    /// Runs jobs directly as containers ("container-based" backends).
    pub run_job: bool,
    /// Provisions several instances as one group.
    pub group_provisioning: bool,
    pub privileged: bool,
    pub instance_volumes: bool,
    pub multinode: bool,
    pub placement_groups: bool,
    pub reservations: bool,
    pub gateways: bool,
    pub private_gateways: bool,
    pub volumes: bool,
}

impl Capabilities {
    /// A backend that lists offers and nothing else (yet).
    pub const OFFERS_ONLY: Capabilities = Capabilities {
        create_instance: false,
        run_job: false,
        group_provisioning: false,
        privileged: false,
        instance_volumes: false,
        multinode: false,
        placement_groups: false,
        reservations: false,
        gateways: false,
        private_gateways: false,
        volumes: false,
    };
}
