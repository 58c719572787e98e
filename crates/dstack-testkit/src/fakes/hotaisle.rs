//! Placeholder: the hotaisle fake (being written).
