//! The integration-test binary: one module per area.

mod reports;
mod runs;
mod validate;
