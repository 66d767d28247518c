//! The integration-test binary: one module per area.

mod remotes;
mod runs;
mod validate;
