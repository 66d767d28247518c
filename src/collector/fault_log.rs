//! Fault changes the remotes reported during the run, whoever made them (a served
//! remote's timeline, this run's `PUT`s, a person or another tool on the control API, a
//! lease running out): a hand-set fault is on the record like a planned one. Kept in
//! the [`Ledger`](super::Ledger) in time order and saved with it; the checks read the
//! windows in which a fault was in force from here as well as from the plan.

use fake_remotes::event::FaultSource;
use serde::{Deserialize, Serialize};

/// The faults in force on `remote` from `at_ms` (ms since load start) on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultChange {
    pub at_ms: u32,
    pub remote: String,
    /// The kinds in force from then on (empty: healed).
    pub faults: Vec<String>,
    pub source: FaultSource,
}

/// One recorded span of faults on one remote: (remote, start, end, kinds, source of the
/// change that began it), ms half-open; a span still open at `end_ms` ends there.
pub type RecordedWindow = (String, u32, u32, Vec<String>, FaultSource);

/// The spans in which some fault was in force, per remote, in time order of their start.
pub fn recorded_windows(changes: &[FaultChange], end_ms: u32) -> Vec<RecordedWindow> {
    let mut open: Vec<(String, u32, Vec<String>, FaultSource)> = Vec::new();
    let mut windows = Vec::new();
    for change in changes {
        if let Some(i) = open.iter().position(|(r, ..)| *r == change.remote) {
            let (remote, from, kinds, source) = open.remove(i);
            windows.push((remote, from, change.at_ms.min(end_ms), kinds, source));
        }
        if !change.faults.is_empty() && change.at_ms < end_ms {
            open.push((
                change.remote.clone(),
                change.at_ms,
                change.faults.clone(),
                change.source,
            ));
        }
    }
    windows.extend(
        open.into_iter()
            .map(|(remote, from, kinds, source)| (remote, from, end_ms, kinds, source)),
    );
    windows.retain(|w| w.1 < w.2);
    windows.sort_by_key(|w| (w.1, w.0.clone()));
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at_ms: u32, remote: &str, faults: &[&str], source: FaultSource) -> FaultChange {
        FaultChange {
            at_ms,
            remote: remote.into(),
            faults: faults.iter().map(|f| f.to_string()).collect(),
            source,
        }
    }

    /// (remote, from, to, source).
    type Span<'a> = (&'a str, u32, u32, FaultSource);

    /// (changes, end) → spans.
    #[test]
    fn spans_from_changes() {
        use FaultSource::*;
        let table: Vec<(Vec<FaultChange>, u32, Vec<Span>)> = vec![
            (
                vec![
                    change(1_000, "slow", &["tarpit"], Api),
                    change(16_000, "slow", &[], Api),
                ],
                60_000,
                vec![("slow", 1_000, 16_000, Api)],
            ),
            // Still in force at the end: cut there.
            (
                vec![change(1_000, "down", &["refuse"], Timeline)],
                30_000,
                vec![("down", 1_000, 30_000, Timeline)],
            ),
            // Two remotes interleaved; a change of kinds splits the span; a lease heals.
            (
                vec![
                    change(1_000, "a", &["refuse"], Api),
                    change(2_000, "b", &["blackhole"], Api),
                    change(3_000, "a", &["tarpit"], Api),
                    change(5_000, "b", &[], Lease),
                    change(6_000, "a", &[], Api),
                ],
                60_000,
                vec![
                    ("a", 1_000, 3_000, Api),
                    ("b", 2_000, 5_000, Api),
                    ("a", 3_000, 6_000, Api),
                ],
            ),
            // After the end: nothing measured.
            (vec![change(70_000, "a", &["refuse"], Api)], 60_000, vec![]),
            (vec![], 60_000, vec![]),
        ];
        for (changes, end, want) in table {
            let windows = recorded_windows(&changes, end);
            let got: Vec<Span> = windows
                .iter()
                .map(|(r, a, b, _, s)| (r.as_str(), *a, *b, *s))
                .collect();
            assert_eq!(got, want, "{changes:?}");
        }
    }
}
