//! The dstack server. This crate is the one place that knows the command line, the HTTP API
//! and the database; backends are linked in by Cargo feature (see [`registry`]).

pub mod api;
pub mod apply;
pub mod check;
pub mod client_config;
pub mod computes;
pub mod configure;
pub mod db;
pub mod encryption;
pub mod error;
pub mod fleets;
pub mod http;
pub mod offers;
pub mod online;
pub mod paths;
pub mod registry;
pub mod server;
pub mod services;
pub mod settings;
pub mod ssh;
pub mod state;
pub mod store;
pub mod ui;
pub mod yaml_out;
