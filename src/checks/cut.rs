//! Where measurement stopped early. An aborted run was measured up to its end
//! (`ledger.end_ms`), and when the remotes or the target stopped answering, only up to
//! that moment (nothing they saw after it reached the ledger). A check that reads past
//! that point judges time in which nothing was measured: it is inconclusive, and says
//! so. The windows each check reads are those it judges: `isolation` its fault windows
//! (or explicit window), `drain` the faults on its domain's remote plus `within`, `alert`
//! up to its deadlines, every other check the whole run.

use serde::{Deserialize, Serialize};

use super::common::{fmt_ms, ms};
use super::Aborted;
use crate::scenario::{Check, During, FaultSubject, Plan};

/// Nothing was measured after `at_ms` (ms since load start), because of `why`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    pub at_ms: u32,
    /// The abort's reason: `interrupted by SIGTERM`, `the remotes at URL stopped
    /// answering at 10.2s`.
    pub why: String,
}

impl Cut {
    /// Why `check` cannot be judged, if it reads past the cut; `end_ms` is when
    /// measurement stopped.
    pub fn reason(&self, check: &Check, plan: &Plan, end_ms: u32) -> Option<String> {
        let reads_to = reads_to(check, plan, end_ms)?;
        (reads_to > self.at_ms).then(|| {
            format!(
                "measurement stopped early ({}): nothing was measured after {}, and this check reads up to {}",
                self.why,
                fmt_ms(self.at_ms),
                fmt_ms(reads_to)
            )
        })
    }

    /// The plan as measured: a fault begun after the cut never happened as far as the
    /// data goes, and one that healed after it had not healed when measurement stopped
    /// (open-ended: `isolation` reads it to the run's end, `drain` has nothing to see
    /// drain).
    pub fn clip(&self, plan: &Plan) -> Plan {
        let cut = std::time::Duration::from_millis(u64::from(self.at_ms));
        let mut clipped = plan.clone();
        clipped.faults.retain(|f| f.at < cut);
        for f in &mut clipped.faults {
            if f.end().is_some_and(|end| end > cut) {
                f.duration = None;
            }
        }
        clipped
    }
}

/// The last instant (ms since load start) `check` reads; `None` if it reads no window
/// (it is inconclusive on its own then).
pub fn reads_to(check: &Check, plan: &Plan, end_ms: u32) -> Option<u32> {
    match check {
        Check::Isolation {
            during: During::Faults,
            ..
        } => plan
            .remote_fault_windows(std::time::Duration::from_millis(u64::from(end_ms)))
            .into_iter()
            .map(|(_, end)| ms(end))
            .max(),
        Check::Isolation {
            during: During::Window { to, .. },
            ..
        } => Some(ms(*to)),
        Check::Drain { domain, within } => {
            let remote = plan.remote_for(domain)?;
            plan.faults
                .iter()
                .filter(|f| {
                    matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if *r == remote.name)
                })
                .filter_map(|f| f.end())
                .map(|end| ms(end).saturating_add(ms(*within)))
                .max()
        }
        // Its deadlines: the fault's start + `fires_within`, its end + `resolves_within`.
        Check::Alert(a) => {
            let (_, start, end) = a.during;
            let fires_by = ms(start + a.fires_within);
            let resolves_by = end.zip(a.resolves_within).map(|(e, w)| ms(e + w));
            Some(resolves_by.map_or(fires_by, |r| r.max(fires_by)))
        }
        _ => Some(end_ms),
    }
}

/// Where an aborted run's measurement stopped: at `end_ms`, or earlier when the data
/// stopped coming (`data_stopped_us`, µs since the Unix epoch: the remotes or the target
/// stopped answering); `None` if the run was not aborted.
pub fn at_abort(
    abort: Option<&Aborted>,
    data_stopped_us: Option<u64>,
    t0_us: u64,
    end_ms: u32,
) -> Option<Cut> {
    let abort = abort?;
    let stopped_ms = data_stopped_us
        .map(|us| u32::try_from(us.saturating_sub(t0_us) / 1000).unwrap_or(u32::MAX));
    Some(Cut {
        at_ms: stopped_ms.map_or(end_ms, |s| s.min(end_ms)),
        why: abort.reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testkit::{fault, one_of_each, plan};

    /// (faults as (at, for), cut) → the faults as measured.
    #[test]
    fn the_timeline_is_clipped_at_the_cut() {
        type Faults = Vec<(u64, Option<u64>)>;
        let table: [(Faults, u32, Faults); 4] = [
            // Healed before the cut: kept; begun after it: dropped.
            (
                vec![(10, Some(10)), (50, Some(10))],
                40_000,
                vec![(10, Some(10))],
            ),
            // Healed after the cut: had not healed when measurement stopped.
            (vec![(10, Some(60))], 40_000, vec![(10, None)]),
            (vec![(10, None)], 40_000, vec![(10, None)]),
            (vec![(10, Some(30))], 40_000, vec![(10, Some(30))]),
        ];
        for (faults, at_ms, want) in table {
            let p = plan(
                faults.iter().map(|&(at, d)| fault("down", at, d)).collect(),
                vec![],
            );
            let cut = Cut {
                at_ms,
                why: "interrupted by SIGTERM".into(),
            };
            let got: Faults = cut
                .clip(&p)
                .faults
                .iter()
                .map(|f| (f.at.as_secs(), f.duration.map(|d| d.as_secs())))
                .collect();
            assert_eq!(got, want, "{faults:?} cut at {at_ms}");
        }
    }

    #[test]
    fn an_abort_cuts_at_the_end_or_where_the_data_stopped() {
        let abort = Aborted {
            reason: "interrupted by SIGTERM".into(),
            at_s: 12.0,
        };
        let t0 = 1_000_000_000;
        // (aborted, data stopped at µs after t0, end) → cut at
        let table = [
            (false, None, 30_000, None),
            (true, None, 30_000, Some(30_000)),
            (true, Some(10_200_000), 30_000, Some(10_200)),
            (true, Some(40_000_000), 30_000, Some(30_000)),
        ];
        for (aborted, stopped, end_ms, want) in table {
            let got = at_abort(
                aborted.then_some(&abort),
                stopped.map(|s: u64| t0 + s),
                t0,
                end_ms,
            );
            assert_eq!(got.as_ref().map(|c| c.at_ms), want, "{stopped:?}");
            if let Some(cut) = got {
                assert_eq!(cut.why, "interrupted by SIGTERM");
            }
        }
    }

    /// `run.json` keeps the cut so `mailquake report DIR` judges the same; runs saved
    /// before it existed have none.
    #[test]
    fn the_cut_is_saved_and_optional() {
        use crate::checks::DataCompleteness;
        let old = r#"{"remote_events_lost":0,"remote_events_from":null,"planned":null,"submitted":5,"shortfall":0,"probes":[]}"#;
        let data: DataCompleteness = serde_json::from_str(old).unwrap();
        assert_eq!(data.cut, None);
        assert!(!serde_json::to_string(&data).unwrap().contains("cut"));
        let cut = DataCompleteness {
            cut: Some(Cut {
                at_ms: 10_200,
                why: "the remotes at http://127.0.0.1:9 stopped answering at 10.2s".into(),
            }),
            ..data
        };
        let again: DataCompleteness =
            serde_json::from_str(&serde_json::to_string(&cut).unwrap()).unwrap();
        assert_eq!(again, cut);
    }

    /// A fault on `down` 30–60 s: isolation reads to 60 s, drain (within 90 s) to
    /// 150 s, the others the whole run (200 s here).
    #[test]
    fn what_each_check_reads_and_whether_the_cut_spares_it() {
        let checks = one_of_each(None);
        let p = plan(vec![fault("down", 30, Some(60))], checks.clone());
        let reads: Vec<(&str, Option<u32>)> = checks
            .iter()
            .map(|c| (c.name(), reads_to(c, &p, 200_000)))
            .collect();
        assert_eq!(
            reads,
            vec![
                ("isolation", Some(90_000)),
                ("drain", Some(180_000)),
                ("no_loss", Some(200_000)),
                ("no_duplicates", Some(200_000)),
                ("nodes", Some(200_000)),
                ("acceptance", Some(200_000)),
            ]
        );
        // (cut at, end) → the checks made inconclusive
        let table: [(u32, u32, &[&str]); 3] = [
            // The remotes stopped answering at 100 s: only isolation had ended.
            (
                100_000,
                200_000,
                &["drain", "no_loss", "no_duplicates", "nodes", "acceptance"],
            ),
            // Aborted at 70 s (a signal): the windows reaching past it.
            (70_000, 70_000, &["isolation", "drain"]),
            (200_000, 200_000, &[]),
        ];
        for (at_ms, end_ms, want) in table {
            let cut = Cut {
                at_ms,
                why: "interrupted by SIGTERM".into(),
            };
            let got: Vec<&str> = checks
                .iter()
                .filter(|c| cut.reason(c, &p, end_ms).is_some())
                .map(Check::name)
                .collect();
            assert_eq!(got, want, "cut at {at_ms}");
        }
        let isolation = &checks[0];
        assert_eq!(
            Cut {
                at_ms: 70_000,
                why: "the remotes at http://127.0.0.1:9 stopped answering at 70s".into()
            }
            .reason(isolation, &p, 70_000)
            .unwrap(),
            "measurement stopped early (the remotes at http://127.0.0.1:9 stopped answering at 70s): nothing was measured after 1m 10s, and this check reads up to 1m 30s"
        );
    }
}
