//! A stateful fake of the cloudrift API (filled in by the cloudrift backend's work).
