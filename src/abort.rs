//! Why and when a run stopped early. One [`Abort`] per run is handed to every part that
//! may stop it — the signal handler (`signals`), the timeline (a failed `exec`), the
//! watches on the target and the remotes (`target/lost.rs`, `remotes/lost.rs`) — and to
//! the stages that must stop with it (through [`Abort::token`]). The first reason given
//! is kept (set once, read at the end: no lock), with the wall-clock time it was given,
//! so the reports can say "interrupted by SIGTERM (at 12.3s)".

use std::sync::{Arc, OnceLock};

use fake_remotes::event::now_us;
use tokio_util::sync::CancellationToken;

use crate::checks::Aborted;

/// The run's abort switch and the reason it was thrown.
#[derive(Clone, Debug, Default)]
pub struct Abort {
    token: CancellationToken,
    why: Arc<OnceLock<(String, u64)>>,
}

impl Abort {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run, saying why in words a person can act on (e.g. `interrupted by
    /// SIGTERM`). Only the first reason is kept: later ones are consequences.
    pub fn abort(&self, reason: impl Into<String>) {
        let _ = self.why.set((reason.into(), now_us()));
        self.token.cancel();
    }

    /// Stops the run because `what` (`the target at ADDR`) stopped answering at
    /// `since_us` (µs since the Unix epoch; said relative to load start `t0_us`), and says
    /// so on stderr with `how_long` (`silent for 5s`).
    pub fn stopped_answering(&self, what: &str, since_us: u64, t0_us: u64, how_long: &str) {
        let reason = format!("{what} stopped answering at {}", fmt_at(since_us, t0_us));
        crate::report::progress::log_line(&format!(
            "mailquake: {reason} ({how_long}) — stopping the load"
        ));
        self.abort(reason);
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// What the stages that stop with the run watch.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Why and when, relative to load start `t0_us` (µs since the Unix epoch); `None` if
    /// the run was not aborted. An abort before load start counts as at 0 s.
    pub fn reason(&self, t0_us: u64) -> Option<Aborted> {
        if !self.is_cancelled() {
            return None;
        }
        let (reason, at_us) = self
            .why
            .get()
            .cloned()
            .unwrap_or_else(|| ("aborted".to_string(), now_us()));
        Some(Aborted {
            reason,
            // Milliseconds are precise enough for a person and keep the JSON short.
            at_s: (at_us.saturating_sub(t0_us) / 1000) as f64 / 1000.0,
        })
    }
}

/// `at_us` (µs since the Unix epoch) as seconds since load start `t0_us`: `12.3s`
/// (before load start: `0.0s`).
pub fn fmt_at(at_us: u64, t0_us: u64) -> String {
    format!("{:.1}s", at_us.saturating_sub(t0_us) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_reason_and_its_time() {
        let abort = Abort::new();
        assert_eq!(abort.reason(0), None);
        let t0 = now_us().saturating_sub(2_000_000);
        abort.abort("interrupted by SIGTERM");
        abort.abort("exec undo failed");
        assert!(abort.token().is_cancelled());
        let why = abort.reason(t0).unwrap();
        assert_eq!(why.reason, "interrupted by SIGTERM");
        assert!((2.0..60.0).contains(&why.at_s), "{why:?}");
        // Before load start: at 0 s.
        assert_eq!(abort.reason(u64::MAX).unwrap().at_s, 0.0);
    }
}
