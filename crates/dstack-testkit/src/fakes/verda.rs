//! A stateful fake of the verda API (filled in by the verda backend's work).
