//! What the test modules share, by concept: running the binary ([`binary`]), reading
//! `summary.json` ([`summary`]), `mailquake remotes` and its API ([`remotes`]), a fake
//! remote and the generator in-process ([`smtp`]), the golden run ([`golden`]) and
//! re-rendering a run's reports ([`reports`]). Test modules use these and never each
//! other's items.

pub mod binary;
pub mod cdp;
pub mod golden;
pub mod remotes;
pub mod reports;
pub mod smtp;
pub mod summary;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A test scenario under `tests/scenarios/runs/`.
pub fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios/runs").join(name)
}

/// Polls `done` until it holds, or fails saying `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
