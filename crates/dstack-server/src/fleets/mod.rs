//! Fleets: the server provisions, watches and terminates instances through its backends.
//!
//! The API (`api::fleets`) writes fleets and pending instances; the background [`worker`]
//! moves each instance through dstack's lifecycle ([`lifecycle`]): [`provision`] (offers,
//! `create_instance`), [`check`] (provisioning data, the shim's healthcheck over SSH) and
//! [`terminate`]. Several servers may share one PostgreSQL database: rows are claimed with
//! row locks, never processed twice at once.

pub mod check;
pub mod cluster;
pub mod lifecycle;
pub mod provision;
pub mod service;
pub mod settings;
mod step;
pub mod terminate;
pub mod worker;

pub use settings::FleetSettings;
pub use step::Step;
pub use worker::Hint;
