//! A stateful fake of the vultr API (filled in by the vultr backend's work).
