//! The saved data of a run, from which `mailquake report DIR` re-renders every report:
//! `scenario.yaml` (the scenario text, byte for byte) and `ledger.bin` (the ledger, its
//! counters and the collector's totals). The checks are judged again from these two, so
//! a re-render gives the same verdict the run gave.
//!
//! `ledger.bin` (format 1, all integers little-endian):
//!
//! ```text
//! "MQLEDGER"  8 bytes, magic
//! u32         format version (1)
//! u32         header length H in bytes
//! H bytes     header: UTF-8 JSON (run id, t0, end, scenario path, aborted and why,
//!             domains, nodes, counters, totals, failed probe samples, record count
//!             and size)
//! N × 34      one fixed-size record per message, in sequence-number order:
//!             intended_ms u32, accepted_ms u32, delivered_ms u32, bounced_ms u32,
//!             delivered_mask u64, domain u16, attempts u16, duplicates u16,
//!             accepted_node u8, delivered_node u8, rcpts u8, flags u8
//! ```
//!
//! Additions that kept format 1 readable both ways: the header's `misrouted` (remote →
//! domain → messages), `fault_windows` (each remote-fault window and how often it fired)
//! the polls of `alert` checks' Prometheus (`alert_polls`),
//! and the counters' `relay_denied` default to empty/0 when absent,
//! and the `MISROUTED` flag (bit 5) is 0 in records written before it existed.
//!
//! Fixed-size binary records rather than CSV: 34 bytes a message keeps a 10-million-
//! message soak at 340 MB and makes reading it back a straight loop.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::samples::Samples;
use crate::checks::Aborted;
use crate::collector::ledger::{FiredWindow, RemoteCounters};
use crate::collector::{Ledger, MessageRecord, Progress};
use crate::scenario::{self, Plan};

pub const SCENARIO_FILE: &str = "scenario.yaml";
pub const LEDGER_FILE: &str = "ledger.bin";
/// The generator's measurements and the harness's problems (a [`super::LoadSection`]).
pub const RUN_FILE: &str = "run.json";

const MAGIC: &[u8; 8] = b"MQLEDGER";
const FORMAT_VERSION: u32 = 1;
/// Bytes of one record on disk (the in-memory record is padded to 40).
pub const RECORD_SIZE: usize = 34;
/// A header larger than this is not ours (guards the allocation against a corrupt file).
const FRAMING: crate::collector::framed::Framing = crate::collector::framed::Framing {
    magic: MAGIC,
    version: FORMAT_VERSION,
    what: "ledger",
    max_header: 64 << 20,
};

/// The ledger's header: everything but the records.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    run_id: String,
    /// Load start, microseconds since the Unix epoch.
    t0_us: u64,
    /// End of measurement, ms since t0.
    end_ms: u32,
    /// The scenario file as given on the command line (`summary.json`'s `scenario`).
    scenario: String,
    aborted: bool,
    /// Why and when it was aborted (absent in folders written before it was saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abort: Option<Aborted>,
    domains: Vec<String>,
    nodes: Vec<String>,
    shortfall: u64,
    foreign: u64,
    remotes: BTreeMap<String, RemoteCounters>,
    submit_rejections: BTreeMap<u16, u64>,
    /// Remote reached → domain → misrouted messages (absent before it was counted).
    #[serde(default)]
    misrouted: BTreeMap<String, BTreeMap<String, u64>>,
    /// Remote-fault windows and how often each fired (absent before it was counted).
    #[serde(default)]
    fault_windows: Vec<FiredWindow>,
    /// The collector's running totals when measurement stopped.
    totals: Progress,
    /// Failed queue probe samples: (ms since t0, node index). Absent in older files.
    #[serde(default)]
    probe_failures: Vec<(u32, u8)>,
    /// Fault changes the remotes reported (`collector::fault_log`). Absent in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fault_changes: Vec<crate::collector::fault_log::FaultChange>,
    /// Polls of the Prometheus servers `alert` checks read. Absent in older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alert_polls: Vec<crate::collector::alerts::AlertPoll>,
    records: u64,
    record_size: u32,
}

/// A run read back from its folder.
#[derive(Debug)]
pub struct SavedRun {
    pub plan: Plan,
    pub scenario_text: String,
    pub ledger: Ledger,
    pub totals: Progress,
    pub abort: Option<Aborted>,
    pub samples: Samples,
    pub load: super::LoadSection,
}

/// Why a folder could not be read; `Display` is one line naming the file.
#[derive(Debug)]
pub struct SavedError {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for SavedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Writes `ledger.bin`.
pub fn write_ledger(
    path: &Path,
    ledger: &Ledger,
    totals: Progress,
    scenario: &Path,
    abort: Option<&Aborted>,
) -> io::Result<()> {
    let header = Header {
        run_id: ledger.run_id.clone(),
        t0_us: ledger.t0_us,
        end_ms: ledger.end_ms,
        scenario: scenario.display().to_string(),
        aborted: abort.is_some(),
        abort: abort.cloned(),
        domains: ledger.domains.clone(),
        nodes: ledger.nodes.clone(),
        shortfall: ledger.shortfall,
        foreign: ledger.foreign,
        remotes: ledger.remotes.clone(),
        submit_rejections: ledger.submit_rejections.clone(),
        misrouted: ledger.misrouted.clone(),
        fault_windows: ledger.fault_windows.clone(),
        totals,
        probe_failures: ledger.probe_failures.clone(),
        fault_changes: ledger.fault_changes.clone(),
        alert_polls: ledger.alert_polls.clone(),
        records: ledger.records.len() as u64,
        record_size: RECORD_SIZE as u32,
    };
    FRAMING.write(path, &header, ledger.records.iter().map(encode))
}

fn encode(r: &MessageRecord) -> [u8; RECORD_SIZE] {
    let mut b = [0u8; RECORD_SIZE];
    b[0..4].copy_from_slice(&r.intended_ms.to_le_bytes());
    b[4..8].copy_from_slice(&r.accepted_ms.to_le_bytes());
    b[8..12].copy_from_slice(&r.delivered_ms.to_le_bytes());
    b[12..16].copy_from_slice(&r.bounced_ms.to_le_bytes());
    b[16..24].copy_from_slice(&r.delivered_mask.to_le_bytes());
    b[24..26].copy_from_slice(&r.domain.to_le_bytes());
    b[26..28].copy_from_slice(&r.attempts.to_le_bytes());
    b[28..30].copy_from_slice(&r.duplicates.to_le_bytes());
    b[30] = r.accepted_node;
    b[31] = r.delivered_node;
    b[32] = r.rcpts;
    b[33] = r.flags;
    b
}

fn decode(b: &[u8; RECORD_SIZE]) -> MessageRecord {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut mask = [0u8; 8];
    mask.copy_from_slice(&b[16..24]);
    MessageRecord {
        intended_ms: u32_at(0),
        accepted_ms: u32_at(4),
        delivered_ms: u32_at(8),
        bounced_ms: u32_at(12),
        delivered_mask: u64::from_le_bytes(mask),
        domain: u16_at(24),
        attempts: u16_at(26),
        duplicates: u16_at(28),
        accepted_node: b[30],
        delivered_node: b[31],
        rcpts: b[32],
        flags: b[33],
    }
}

/// Reads `ledger.bin`: the ledger, the totals, the scenario path as given and why the
/// run was aborted, if it was.
fn read_ledger(path: &Path) -> Result<(Ledger, Progress, String, Option<Aborted>), SavedError> {
    let fail = |message: String| SavedError {
        file: path.to_path_buf(),
        message,
    };
    let (header, mut input, size, frame): (Header, _, _, _) = FRAMING.read(path).map_err(fail)?;
    let truncated = |e: io::Error| fail(crate::collector::framed::truncated(e));
    if header.record_size as usize != RECORD_SIZE {
        return Err(fail(format!(
            "records of {} bytes, expected {RECORD_SIZE}",
            header.record_size
        )));
    }
    let expected = frame + header.records * RECORD_SIZE as u64;
    if size != expected {
        return Err(fail(format!(
            "{size} bytes, but the header announces {} records ({expected} bytes)",
            header.records
        )));
    }
    let mut records = Vec::with_capacity(header.records as usize);
    let mut buf = [0u8; RECORD_SIZE];
    for _ in 0..header.records {
        input.read_exact(&mut buf).map_err(truncated)?;
        records.push(decode(&buf));
    }
    let ledger = Ledger {
        run_id: header.run_id,
        t0_us: header.t0_us,
        end_ms: header.end_ms,
        records,
        domains: header.domains,
        nodes: header.nodes,
        shortfall: header.shortfall,
        foreign: header.foreign,
        remotes: header.remotes,
        submit_rejections: header.submit_rejections,
        // Probe samples are saved apart (queue_depth.csv) and put back by `load`.
        queue: Vec::new(),
        probe_failures: header.probe_failures,
        // The routing table judged the records when they were measured; their
        // `MISROUTED` flags and these counts are what is kept.
        served: Default::default(),
        misrouted: header.misrouted,
        fault_windows: header.fault_windows,
        // Read apart, by `mailquake explain` only (attempts.bin).
        attempts: Default::default(),
        fault_changes: header.fault_changes,
        alert_polls: header.alert_polls,
        part: Default::default(),
    };
    // Folders from before the reason was saved: aborted by the operator (Ctrl-C was the
    // only way then), at the end of measurement.
    let abort = header.abort.or_else(|| {
        header.aborted.then(|| Aborted {
            reason: "aborted by the operator".into(),
            at_s: f64::from(ledger.end_ms) / 1000.0,
        })
    });
    Ok((ledger, header.totals, header.scenario, abort))
}

/// Reads a run's folder: the scenario (parsed again), the ledger, optional samples.
pub fn load(dir: &Path) -> Result<SavedRun, SavedError> {
    if !dir.is_dir() {
        return Err(SavedError {
            file: dir.to_path_buf(),
            message: "not a folder".into(),
        });
    }
    let scenario_file = dir.join(SCENARIO_FILE);
    // Under the scenario reader's limits: a FIFO or a huge file here must not hang.
    let scenario_text = scenario::read(&scenario_file).map_err(|e| SavedError {
        file: scenario_file.clone(),
        message: match e.line {
            0 => format!("{} (is this the output folder of a run?)", e.message),
            line => format!("{line}:{}: {}", e.col, e.message),
        },
    })?;
    let (ledger, totals, scenario_path, abort) = read_ledger(&dir.join(LEDGER_FILE))?;
    // Parse under the saved file's name so an error points at it, then restore the path
    // the run was given: `summary.json` reports that one.
    let samples = Samples::read(dir).map_err(|(file, message)| SavedError { file, message })?;
    // The queue check judges the probe samples: put them back into the ledger.
    let mut ledger = ledger;
    for q in &samples.queue_depths {
        let node = ledger.node_index(&q.node);
        ledger.queue.push(crate::collector::ledger::QueueRecord {
            at_ms: q.at_ms,
            node,
            total: q.depth.min(u64::from(u32::MAX)) as u32,
            by_domain: Vec::new(),
        });
    }
    let run_file = dir.join(RUN_FILE);
    let load = match std::fs::read_to_string(&run_file) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| SavedError {
            file: run_file.clone(),
            message: format!("not what a run writes: {e}"),
        })?,
        // Older folders have none: the reports then leave the generator's part out.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => super::LoadSection::default(),
        Err(e) => {
            return Err(SavedError {
                file: run_file,
                message: format!("cannot read: {e}"),
            })
        }
    };
    // An attached run's scenario names only the remotes' API: checked against the
    // remotes the run found there, as the run was, so `drain` and the fault windows
    // find them again.
    let served: Vec<scenario::RemoteSpec> = load
        .served_remotes
        .iter()
        .map(|r| scenario::RemoteSpec {
            name: r.name.clone(),
            domains: r.domains.clone(),
            listen: r.listen,
        })
        .collect();
    let parsed = if served.is_empty() {
        scenario::parse(&scenario_text, &scenario_file)
    } else {
        scenario::parse_attached(&scenario_text, &scenario_file, &served)
    };
    let mut plan = parsed.map_err(|e| SavedError {
        file: scenario_file.clone(),
        message: format!("no longer valid: {e}"),
    })?;
    plan.source = PathBuf::from(scenario_path);
    Ok(SavedRun {
        plan,
        scenario_text,
        ledger,
        totals,
        abort,
        samples,
        load,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ledger::flag;

    fn ledger() -> Ledger {
        let mut l = Ledger {
            run_id: "abc123".into(),
            t0_us: 1_700_000_000_000_000,
            end_ms: 5_000,
            domains: vec!["ok.test".into(), "down.test".into()],
            nodes: vec!["n1".into()],
            shortfall: 3,
            foreign: 1,
            probe_failures: vec![(1_000, 0)],
            alert_polls: vec![crate::collector::alerts::AlertPoll {
                at_ms: 1_500,
                prometheus: "http://127.0.0.1:9090".into(),
                seen: Some(crate::collector::alerts::AlertsSeen {
                    rules: vec!["Backlog".into()],
                    active: vec![crate::collector::alerts::ActiveAlert {
                        name: "Backlog".into(),
                        labels: [("node".to_string(), "n2".to_string())].into(),
                        firing: true,
                    }],
                }),
                error: None,
            }],
            fault_changes: vec![crate::collector::fault_log::FaultChange {
                at_ms: 1_200,
                remote: "slow".into(),
                faults: vec!["tarpit".into()],
                source: fake_remotes::event::FaultSource::Api,
            }],
            ..Default::default()
        };
        l.submit_rejections.insert(451, 2);
        l.remotes.insert(
            "ok".into(),
            RemoteCounters {
                connections: 4,
                ..Default::default()
            },
        );
        l.records.push(MessageRecord {
            intended_ms: 1,
            accepted_ms: 2,
            delivered_ms: 3,
            bounced_ms: u32::MAX,
            delivered_mask: u64::MAX - 5,
            domain: 1,
            attempts: 300,
            duplicates: 2,
            accepted_node: 0,
            delivered_node: 255,
            rcpts: 64,
            flags: flag::SUBMITTED | flag::ACCEPTED,
        });
        l.records.push(MessageRecord {
            flags: flag::SUBMITTED | flag::ACCEPTED | flag::MISROUTED,
            ..MessageRecord::default()
        });
        l.misrouted
            .entry("ok".into())
            .or_default()
            .insert("down.test".into(), 1);
        l.fault_windows.push(FiredWindow {
            remote: "down".into(),
            fault: "refuse".into(),
            start_ms: 1_000,
            end_ms: crate::collector::ledger::NEVER,
            fired: 3,
        });
        l
    }

    #[test]
    fn ledger_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE);
        let l = ledger();
        let totals = Progress {
            submitted: 2,
            ..Default::default()
        };
        let why = Aborted {
            reason: "interrupted by SIGTERM".into(),
            at_s: 1.5,
        };
        write_ledger(&path, &l, totals, Path::new("s.yaml"), Some(&why)).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let (back, t, scenario, aborted) = read_ledger(&path).unwrap();
        assert_eq!(back.records, l.records);
        assert_eq!((back.domains, back.nodes), (l.domains, l.nodes));
        assert_eq!(
            (back.t0_us, back.end_ms, back.run_id),
            (l.t0_us, 5_000, l.run_id)
        );
        assert_eq!(
            (back.remotes, back.submit_rejections),
            (l.remotes, l.submit_rejections)
        );
        assert!(back.records[1].misrouted());
        assert_eq!(
            (back.misrouted, back.fault_windows),
            (l.misrouted, l.fault_windows)
        );
        assert_eq!(
            (t, scenario.as_str(), aborted),
            (totals, "s.yaml", Some(why))
        );
        assert_eq!(back.probe_failures, l.probe_failures);
        assert_eq!(back.fault_changes, l.fault_changes);
        assert_eq!(back.alert_polls, l.alert_polls);

        // A truncated file is named and refused.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..size as usize - 1]).unwrap();
        let err = read_ledger(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("announces 2 records"), "{err}");
        std::fs::write(&path, b"hello").unwrap();
        assert!(read_ledger(&path)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
    }

    /// A folder written before the abort's reason was saved (`aborted: true` alone) still
    /// reads, as aborted by the operator at the end of measurement.
    #[test]
    fn an_old_aborted_ledger_reads_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE);
        write_ledger(&path, &ledger(), Progress::default(), Path::new("s"), None).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let find = |b: &[u8], what: &[u8]| b.windows(what.len()).position(|w| w == what);
        assert_eq!(
            find(&bytes, b"\"abort\":"),
            None,
            "no abort key when not aborted"
        );
        // Same length, so the header length still holds: `false` → `true ` (JSON allows it).
        let at = find(&bytes, b"\"aborted\":false").unwrap() + b"\"aborted\":".len();
        bytes[at..at + 5].copy_from_slice(b"true ");
        std::fs::write(&path, &bytes).unwrap();
        let (_, _, _, abort) = read_ledger(&path).unwrap();
        let abort = abort.unwrap();
        assert_eq!(
            (abort.reason.as_str(), abort.at_s),
            ("aborted by the operator", 5.0)
        );
    }

    /// A ledger written before misrouting and fired counts existed (no `misrouted`,
    /// `fault_windows`, `relay_denied`, `totals.misrouted`) still reads, with them empty.
    #[test]
    fn a_ledger_from_before_misrouting_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE);
        write_ledger(&path, &ledger(), Progress::default(), Path::new("s"), None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + len]).unwrap();
        let h = header.as_object_mut().unwrap();
        h.remove("misrouted");
        h.remove("fault_windows");
        h["totals"].as_object_mut().unwrap().remove("misrouted");
        for counters in h["remotes"].as_object_mut().unwrap().values_mut() {
            counters.as_object_mut().unwrap().remove("relay_denied");
        }
        let old = serde_json::to_vec(&header).unwrap();
        let mut file = bytes[..12].to_vec();
        file.extend_from_slice(&(old.len() as u32).to_le_bytes());
        file.extend_from_slice(&old);
        file.extend_from_slice(&bytes[16 + len..]);
        std::fs::write(&path, &file).unwrap();
        let (back, totals, _, _) = read_ledger(&path).unwrap();
        assert!(back.misrouted.is_empty() && back.fault_windows.is_empty());
        assert_eq!((totals.misrouted, back.remotes["ok"].relay_denied), (0, 0));
        assert_eq!(back.remotes["ok"].connections, 4);
    }
}
