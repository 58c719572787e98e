//! The fixture's registry: no backend lines.

pub const BACKEND_FEATURES: &[&str] = &[];
