//! The dstack server. This crate is the one place that knows the command line, the HTTP API
//! and the database; backends are linked in by Cargo feature (see [`registry`]).

pub mod check;
pub mod paths;
pub mod registry;
pub mod db;
pub mod encryption;
