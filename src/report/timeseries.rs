//! `timeseries.csv`: what happened each second, per domain, in long form (one row per
//! second and domain) so a spreadsheet pivot or `pandas.read_csv` takes it as is:
//!
//! `second,domain,submitted,accepted,delivered,bounced,outstanding,faults`
//!
//! `second` n covers `[n, n+1)` s since load start; `outstanding` is counted at the
//! second's end; `faults` lists the faults in force during any part of that second
//! (`refuse@down;stuck@n2`, empty for none). Column meanings: `reports/README.md`.

use std::fmt::Write as _;

use super::csv;
use super::series::{domain_counts, faults_in_force, Buckets};
use super::JudgedRun;

pub const FILE: &str = "timeseries.csv";
const HEADER: &str = "second,domain,submitted,accepted,delivered,bounced,outstanding,faults";

pub fn render(run: &JudgedRun) -> String {
    let ledger = &run.ledger;
    let seconds = Buckets::new(1000, ledger.end_ms);
    let counts = domain_counts(ledger, seconds);
    let domains: Vec<String> = ledger.domains.iter().map(|d| csv::field(d)).collect();
    let mut out = String::with_capacity(64 * seconds.count * domains.len().max(1));
    out.push_str(HEADER);
    out.push('\n');
    for s in 0..seconds.count {
        let from = seconds.start_ms(s);
        let faults = csv::field(&faults_in_force(&run.plan.faults, from, from + 1000).join(";"));
        for (d, c) in counts.iter().enumerate() {
            let _ = writeln!(
                out,
                "{s},{},{},{},{},{},{},{faults}",
                domains[d],
                c.submitted[s],
                c.accepted[s],
                c.delivered[s],
                c.bounced[s],
                c.outstanding[s],
            );
        }
    }
    out
}
