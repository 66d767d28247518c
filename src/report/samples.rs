//! Measurements beyond the ledger that some runs have, and the reports show when
//! present: submit latency per SMTP phase (from the generator's per-phase histograms)
//! and queue depth per node (from queue probes). A run without them has empty lists and
//! the report leaves their sections out.
//!
//! Saved next to the ledger so `mailquake report DIR` can show them again, each only
//! when it has rows (schema in `reports/README.md`):
//! `phases.csv` — `phase,from_ms,to_ms,count,p50_us,p99_us,max_us` (one row per phase and
//! interval) and `queue_depth.csv` — `at_ms,node,depth` (one row per probe reading).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::csv;

pub const PHASES_FILE: &str = "phases.csv";
pub const QUEUE_DEPTH_FILE: &str = "queue_depth.csv";

const PHASES_HEADER: &str = "phase,from_ms,to_ms,count,p50_us,p99_us,max_us";
const QUEUE_DEPTH_HEADER: &str = "at_ms,node,depth";

/// Submit latency of one SMTP phase (`connect`, `ehlo`, `mail`, `rcpt`, `data`, `dot` …)
/// over one interval `[from_ms, to_ms)` since load start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseLatency {
    pub phase: String,
    pub from_ms: u32,
    pub to_ms: u32,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One queue probe reading: `depth` messages queued on `node` at `at_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDepth {
    pub at_ms: u32,
    pub node: String,
    pub depth: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples {
    pub phases: Vec<PhaseLatency>,
    pub queue_depths: Vec<QueueDepth>,
}

impl Samples {
    /// What a finished run has: the queue probes' readings (from the ledger) and each
    /// phase's latency per histogram-log interval (from the generator's stats task).
    pub fn from_run(
        ledger: &crate::collector::Ledger,
        stats: &crate::measure::PhaseStats,
    ) -> Samples {
        let width = stats.interval.as_millis().min(u128::from(u32::MAX)) as u32;
        Samples {
            phases: stats
                .intervals
                .iter()
                .map(|s| {
                    let from_ms = s.interval.saturating_mul(width);
                    PhaseLatency {
                        phase: s.phase.as_str().to_string(),
                        from_ms,
                        to_ms: from_ms.saturating_add(width),
                        count: s.count,
                        p50_us: s.p50_us,
                        p99_us: s.p99_us,
                        max_us: s.max_us,
                    }
                })
                .collect(),
            queue_depths: Samples::from_ledger(ledger).queue_depths,
        }
    }

    /// What the ledger alone holds (the queue probes' readings): a run in progress,
    /// whose per-phase latency is still with the generator.
    pub fn from_ledger(ledger: &crate::collector::Ledger) -> Samples {
        Samples {
            phases: Vec::new(),
            queue_depths: ledger
                .queue
                .iter()
                .map(|q| QueueDepth {
                    at_ms: q.at_ms,
                    node: ledger.node_name(q.node).to_string(),
                    depth: u64::from(q.total),
                })
                .collect(),
        }
    }

    /// The files to write: (name, contents), only for lists with rows.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let mut files = Vec::new();
        if !self.phases.is_empty() {
            let mut t = format!("{PHASES_HEADER}\n");
            for p in &self.phases {
                let _ = writeln!(
                    t,
                    "{},{},{},{},{},{},{}",
                    csv::field(&p.phase),
                    p.from_ms,
                    p.to_ms,
                    p.count,
                    p.p50_us,
                    p.p99_us,
                    p.max_us
                );
            }
            files.push((PHASES_FILE, t));
        }
        if !self.queue_depths.is_empty() {
            let mut t = format!("{QUEUE_DEPTH_HEADER}\n");
            for q in &self.queue_depths {
                let _ = writeln!(t, "{},{},{}", q.at_ms, csv::field(&q.node), q.depth);
            }
            files.push((QUEUE_DEPTH_FILE, t));
        }
        files
    }

    /// Reads whichever of the files exist in `dir`. `Err((file, message))` names the
    /// file and the line that could not be read.
    pub fn read(dir: &Path) -> Result<Samples, (PathBuf, String)> {
        let mut samples = Samples::default();
        for (file, line, f) in rows(&dir.join(PHASES_FILE), PHASES_HEADER, 7)? {
            let num = |i: usize| number(&file, line, &f[i]);
            samples.phases.push(PhaseLatency {
                phase: f[0].clone(),
                from_ms: num(1)?.min(u64::from(u32::MAX)) as u32,
                to_ms: num(2)?.min(u64::from(u32::MAX)) as u32,
                count: num(3)?,
                p50_us: num(4)?,
                p99_us: num(5)?,
                max_us: num(6)?,
            });
        }
        for (file, line, f) in rows(&dir.join(QUEUE_DEPTH_FILE), QUEUE_DEPTH_HEADER, 3)? {
            let num = |i: usize| number(&file, line, &f[i]);
            samples.queue_depths.push(QueueDepth {
                at_ms: num(0)?.min(u64::from(u32::MAX)) as u32,
                node: f[1].clone(),
                depth: num(2)?,
            });
        }
        Ok(samples)
    }
}

type Row = (PathBuf, usize, Vec<String>);

/// A numeric field of `file`'s `line`.
fn number(file: &Path, line: usize, field: &str) -> Result<u64, (PathBuf, String)> {
    field.parse().map_err(|_| {
        (
            file.to_path_buf(),
            format!("line {line}: `{field}` is not a number"),
        )
    })
}

/// The data rows of a CSV file with `header` and `width` columns; none if it is absent.
fn rows(path: &Path, header: &str, width: usize) -> Result<Vec<Row>, (PathBuf, String)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err((path.to_path_buf(), format!("cannot read: {e}"))),
    };
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l) != Some(header) {
        return Err((path.to_path_buf(), format!("line 1: expected `{header}`")));
    }
    let mut out = Vec::new();
    for (i, line) in lines.filter(|(_, l)| !l.is_empty()) {
        let fields = csv::split(line);
        if fields.len() != width {
            return Err((
                path.to_path_buf(),
                format!("line {}: {} fields, expected {width}", i + 1, fields.len()),
            ));
        }
        out.push((path.to_path_buf(), i + 1, fields));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Samples::read(dir.path()).unwrap(), Samples::default());
        let s = Samples {
            phases: vec![PhaseLatency {
                phase: "rcpt".into(),
                from_ms: 0,
                to_ms: 1000,
                count: 10,
                p50_us: 300,
                p99_us: 900,
                max_us: 1200,
            }],
            queue_depths: vec![QueueDepth {
                at_ms: 500,
                node: "n,1".into(),
                depth: 42,
            }],
        };
        for (name, text) in s.files() {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        assert_eq!(Samples::read(dir.path()).unwrap(), s);
        std::fs::write(
            dir.path().join(QUEUE_DEPTH_FILE),
            "at_ms,node,depth\nx,n1,3\n",
        )
        .unwrap();
        let (file, msg) = Samples::read(dir.path()).unwrap_err();
        assert!(
            file.ends_with(QUEUE_DEPTH_FILE) && msg.contains("line 2"),
            "{msg}"
        );
    }
}
