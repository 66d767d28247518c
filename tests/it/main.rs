//! The integration-test binary: one module per area.

mod postfix;
mod remotes;
mod runs;
mod validate;
