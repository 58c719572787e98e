//! Placeholder: the jarvislabs fake (being written).
