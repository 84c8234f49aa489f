//! Support for the code `#[mutex]` generates. Not public API: no stability guarantees.
