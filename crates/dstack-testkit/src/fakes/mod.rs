//! Stateful fakes of providers' APIs, built on [`crate::FakeApi`] in each provider's own
//! shapes (and held to its published description where one exists). A backend's own tests
//! and the server's end-to-end tests start the same fake, so both see one behaviour.

pub mod cloudrift;
pub mod digitalocean;
pub mod hotaisle;
pub mod jarvislabs;
pub mod kubernetes;
pub mod lambda;
pub mod seeweb;
pub mod verda;
pub mod vultr;
