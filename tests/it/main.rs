//! The integration-test binary: one module per area.

mod postfix;
mod runs;
mod validate;
