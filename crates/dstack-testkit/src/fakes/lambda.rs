//! Placeholder: the lambda fake (being written).
