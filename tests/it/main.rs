//! The integration-test binary: one module per area.

mod bad_input;
mod flood;
mod generator;
mod generator_tls;
mod heal;
mod lease;
mod out_dir;
mod postfix;
mod preflight;
mod readers;
mod remotes;
mod reports;
mod runs;
mod safety;
mod signals;
mod validate;
