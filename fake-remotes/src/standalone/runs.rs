//! Messages counted by the run that sent them. A standalone server is shared (by several
//! runs, by people at a game day, by whatever a staging cluster sends on its own), so
//! `GET /remotes` shows who its mail came from: per mailquake run id (the part of the
//! `X-Mailquake-Id` tracking id before the first `.`), and mail with no tracking id at all.
//! A run attached to these remotes counts what is not its own as `foreign`; this is the
//! same picture seen from the remotes' side, for every run at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Run ids counted one by one; mail of further runs is added up in `other_runs` (bounds
/// memory however many runs a long-lived server sees).
pub const MAX_RUNS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// Messages accepted, by the run id of their tracking id (at most [`MAX_RUNS`] ids).
    pub by_run: BTreeMap<String, u64>,
    /// Messages of runs beyond the first [`MAX_RUNS`].
    pub other_runs: u64,
    /// Messages without a tracking id: not sent by mailquake.
    pub untracked: u64,
}

impl RunCounts {
    /// Counts one accepted message with its tracking id (`<run>.<seq>`), if it had one.
    pub fn count(&mut self, tracking: Option<&str>) {
        let run = tracking
            .map(|t| t.split('.').next().unwrap_or(t).trim())
            .filter(|r| !r.is_empty());
        let Some(run) = run else {
            self.untracked += 1;
            return;
        };
        if let Some(n) = self.by_run.get_mut(run) {
            *n += 1;
        } else if self.by_run.len() < MAX_RUNS {
            self.by_run.insert(run.to_owned(), 1);
        } else {
            self.other_runs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_run_id_untracked_and_beyond_the_bound() {
        let mut c = RunCounts::default();
        for t in [
            Some("a1b2c3.0"),
            Some("a1b2c3.17"),
            Some("ffee01.3"),
            None,
            Some(""),
        ] {
            c.count(t);
        }
        assert_eq!(c.by_run.get("a1b2c3"), Some(&2));
        assert_eq!(c.by_run.get("ffee01"), Some(&1));
        assert_eq!(c.untracked, 2);
        for i in 0..MAX_RUNS + 5 {
            c.count(Some(&format!("r{i}.1")));
        }
        assert_eq!(c.by_run.len(), MAX_RUNS);
        assert_eq!(c.other_runs, 7);
        c.count(Some("a1b2c3.99"));
        assert_eq!(c.by_run.get("a1b2c3"), Some(&3));
    }
}
