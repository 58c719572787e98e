//! A stateful fake of the seeweb API (filled in by the seeweb backend's work).
