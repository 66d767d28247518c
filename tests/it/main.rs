//! The integration-test binary: one module per area.

mod runs;
mod validate;
