//! Reading config text: a located YAML tree ([`node`]), a serde deserializer over it that keeps
//! field paths and locations ([`de`]), and the diagnostics both produce ([`diagnostic`]).

pub mod de;
pub mod diagnostic;
pub mod node;

pub use de::{BY_SHAPE, Collector};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use node::{Node, Value};
