//! A stateful fake of the digitalocean API (filled in by the digitalocean backend's work).
