//! The integration-test binary: one module per area.

mod flood;
mod generator;
mod generator_tls;
mod postfix;
mod remotes;
mod reports;
mod routing;
mod runs;
mod signals;
mod validate;
