//! `mailquake merge DIR... --out DIR`: the shards of one run (`mailquake run --shard
//! I/N`, see `crate::shard`) judged as one run.
//!
//! It refuses (exit 2, one line) folders that are not shards 0..N-1 of one run, each
//! once: a missing or duplicated shard, a late one (no data), or shards that disagree
//! on N, T0, run id or scenario. Otherwise it unions their saved data ([`union`]), sums
//! their interval histograms per absolute interval ([`hlogs`]), judges every check on
//! the union with the same `checks::judge` a run uses, and writes the same folder a run
//! writes (summary.json with `shards`, junit.xml, report.html, timeseries.csv, the saved
//! data, merged `*.hlog`) and terminal summary. Exit codes as `run`.

pub mod hlogs;
pub mod union;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::collector::attempts::{self, AttemptLog};
use crate::measure::PhaseStats;
use crate::report::load::{LoadJson, LoadNodeJson, Phases, RepliesJson};
use crate::report::saved::{self, SavedRun};
use crate::report::{JudgedRun, LoadSection, Samples, ShardJson};
use crate::scenario::LoadModel;
use crate::shard::Manifest;
use crate::smtp::Phase;
use crate::tracking::Part;
use union::ShardData;

/// `mailquake merge DIR... --out DIR`.
pub fn main(dirs: &[PathBuf], out: &Path) -> ExitCode {
    match merge(dirs, out) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err((code, line)) => {
            eprintln!("mailquake merge: {line}");
            ExitCode::from(code)
        }
    }
}

/// Why the folders are not the shards of one run (one line), if they are not. `dirs`
/// and their manifests in the order given.
pub fn check(shards: &[(PathBuf, Manifest)]) -> Result<(), String> {
    let Some((first_dir, first)) = shards.first() else {
        return Err("no shard folders given".into());
    };
    for (dir, m) in shards {
        if m.status == "late" {
            return Err(format!(
                "{}: shard {}/{} started late and sent nothing; run the shards again with a later --t0",
                dir.display(),
                m.index,
                m.count
            ));
        }
        let disagree = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            Err(format!(
                "shards disagree on {what}: {} says {a}, {} says {b}",
                first_dir.display(),
                dir.display()
            ))
        };
        if m.count != first.count {
            return disagree("N", &first.count, &m.count);
        }
        if m.t0_us != first.t0_us {
            return disagree("T0", &first.t0, &m.t0);
        }
        if m.run_id != first.run_id {
            return disagree("the run id", &first.run_id, &m.run_id);
        }
        if m.scenario_sha256 != first.scenario_sha256 {
            return disagree(
                "the scenario (sha256)",
                &first.scenario_sha256,
                &m.scenario_sha256,
            );
        }
    }
    let mut seen: BTreeMap<u64, &Path> = BTreeMap::new();
    for (dir, m) in shards {
        if let Some(other) = seen.insert(m.index, dir) {
            return Err(format!(
                "shard {}/{} given twice: {} and {}",
                m.index,
                m.count,
                other.display(),
                dir.display()
            ));
        }
    }
    let missing: Vec<String> = (0..first.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard{} {} of {} missing (given: {}); merge needs every shard of run {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            first.count,
            seen.keys()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            first.run_id
        ));
    }
    Ok(())
}

fn merge(dirs: &[PathBuf], out: &Path) -> Result<crate::run::Outcome, (u8, String)> {
    let refuse = |line: String| (2u8, line);
    let mut shards = dirs
        .iter()
        .map(|d| Manifest::read(d).map(|m| (d.clone(), m)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(refuse)?;
    check(&shards).map_err(refuse)?;
    shards.sort_by_key(|(_, m)| m.index);
    let saved: Vec<SavedRun> = shards
        .iter()
        .map(|(d, _)| saved::load(d).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()
        .map_err(refuse)?;
    // The attempt logs are for `explain` alone: one that cannot be read is said in the
    // load problems, not a reason to refuse the merge.
    let mut attempt_problems = Vec::new();
    let data: Vec<ShardData> = shards
        .iter()
        .zip(&saved)
        .map(|((dir, m), s)| ShardData {
            part: Part {
                index: m.index,
                count: m.count,
            },
            ledger: {
                let mut ledger = s.ledger.clone();
                match read_attempts(dir, &ledger.run_id) {
                    Ok(log) => ledger.attempts = log,
                    Err(e) => attempt_problems.push(format!("shard {}: {e}", m.index)),
                }
                ledger
            },
            totals: s.totals,
            data: s.load.data.clone(),
            abort: s.abort.clone(),
        })
        .collect();
    let merged = union::union(&data);
    let first = &saved[0];
    let plan = first.plan.clone();
    let interval = plan.load.hlog_interval;
    let mut histograms = hlogs::Merged::default();
    for (dir, _) in &shards {
        histograms.add_dir(dir, interval).map_err(refuse)?;
    }
    crate::out_dir::prepare(out).map_err(|e| (3, e))?;
    let (hlog_files, hlog_error) = match histograms.write(out, merged.ledger.t0_us, interval) {
        Ok(files) => (files, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let mut samples = Samples::from_run(&merged.ledger, &PhaseStats::default());
    samples.phases = histograms.phases(interval);
    let (load, replies) = load_json(
        &plan.load.model,
        &saved,
        &histograms,
        &merged.data,
        hlog_files,
        hlog_error,
    );
    let problems = saved
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.load
                .problems
                .iter()
                .map(move |p| format!("shard {i}: {p}"))
        })
        .chain(attempt_problems)
        .collect();
    let mut section = LoadSection::new(load, replies, problems, merged.data.clone());
    section.preflight = crate::preflight::PreflightReport::merged(
        &shards
            .iter()
            .zip(&saved)
            .map(|((_, m), s)| (m.index, s.load.preflight.as_ref()))
            .collect::<Vec<_>>(),
    );
    section.shards = shards
        .iter()
        .zip(&saved)
        .map(|((dir, m), s)| ShardJson {
            index: m.index,
            count: m.count,
            dir: dir.display().to_string(),
            status: m.status.clone(),
            submitted: s.totals.submitted,
            accepted: s.totals.accepted,
            delivered: s.totals.delivered,
            bounced: s.totals.bounced,
        })
        .collect();
    let findings = crate::checks::judge(&plan, &merged.ledger, &merged.data);
    let judged = JudgedRun {
        plan,
        scenario_text: first.scenario_text.clone(),
        ledger: merged.ledger,
        totals: merged.totals,
        findings,
        abort: merged.abort,
        samples,
        load: section,
    };
    let written = crate::report::write_run(out, &judged);
    Ok(crate::run::finish(written, out.to_path_buf(), None))
}

/// A shard's attempt log (empty when it saved none). `Err`: one line naming the file.
fn read_attempts(dir: &Path, run_id: &str) -> Result<AttemptLog, String> {
    let path = dir.join(attempts::FILE);
    if !path.exists() {
        return Ok(AttemptLog::default());
    }
    let (header, log) = AttemptLog::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if header.run_id != run_id {
        return Err(format!(
            "{}: of run {}, not {run_id}; its attempts are left out",
            path.display(),
            header.run_id
        ));
    }
    Ok(log)
}

/// The load section of the merged run: counts summed over the shards, latency from the
/// summed histograms (overall, per node and per endpoint).
fn load_json(
    model: &LoadModel,
    saved: &[SavedRun],
    histograms: &hlogs::Merged,
    data: &crate::checks::DataCompleteness,
    hlog_files: Vec<PathBuf>,
    hlog_error: Option<String>,
) -> (LoadJson, RepliesJson) {
    let sum = |key: &str| -> u64 {
        saved
            .iter()
            .filter_map(|s| s.load.load.get(key).and_then(|v| v.as_u64()))
            .sum()
    };
    // name → (submitted, accepted) over the shards' `nodes` or `endpoints`.
    let counts = |key: &str| -> BTreeMap<String, (u64, u64)> {
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for s in saved {
            for n in s
                .load
                .load
                .get(key)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                let name = n.get("name").and_then(|v| v.as_str()).unwrap_or("?");
                let e = by.entry(name.to_string()).or_default();
                e.0 += n.get("submitted").and_then(|v| v.as_u64()).unwrap_or(0);
                e.1 += n.get("accepted").and_then(|v| v.as_u64()).unwrap_or(0);
            }
        }
        by
    };
    let (all, by_node) = histograms.totals();
    let node_counts = counts("nodes");
    let load = LoadJson {
        model: match model {
            LoadModel::Open => "open",
            LoadModel::Closed => "closed",
        },
        sessions: sum("sessions") as usize,
        planned: data.planned,
        shortfall: sum("shortfall"),
        submitted: sum("submitted"),
        accepted: sum("accepted"),
        phases: Phases::of(&all),
        nodes: by_node
            .iter()
            .map(|(name, h)| {
                let (submitted, accepted) = node_counts.get(name).copied().unwrap_or_default();
                LoadNodeJson {
                    name: name.clone(),
                    submitted,
                    accepted,
                    phases: Phases::of(h),
                }
            })
            .collect(),
        endpoints: {
            let latency = histograms.endpoint_totals();
            counts("endpoints")
                .into_iter()
                .map(|(name, (submitted, accepted))| LoadNodeJson {
                    phases: latency.get(&name).map(Phases::of).unwrap_or_default(),
                    name,
                    submitted,
                    accepted,
                })
                .collect()
        },
        hlog_files: hlog_files.iter().map(|p| p.display().to_string()).collect(),
        hlog_error,
    };
    let mut replies: RepliesJson = BTreeMap::new();
    for s in saved {
        let Some(stages) = s.load.submit_replies.as_object() else {
            continue;
        };
        for (stage, codes) in stages {
            let Some(phase) = Phase::ALL.iter().find(|p| p.as_str() == stage) else {
                continue;
            };
            let slot = replies.entry(phase.as_str()).or_default();
            for (code, n) in codes.as_object().into_iter().flatten() {
                *slot.entry(code.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
    }
    (load, replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(index: u64, count: u64, t0_us: u64) -> Manifest {
        Manifest {
            index,
            count,
            t0: crate::shard::format_t0(t0_us),
            t0_us,
            run_id: "r1".into(),
            scenario_sha256: "ab".into(),
            status: "complete".into(),
        }
    }

    #[test]
    fn refuses_what_is_not_one_run_in_one_line() {
        let d = |s: &str| PathBuf::from(s);
        let ok = vec![(d("a"), m(0, 2, 1)), (d("b"), m(1, 2, 1))];
        assert_eq!(check(&ok), Ok(()));
        let table = [
            (
                vec![(d("a"), m(0, 3, 1)), (d("b"), m(1, 3, 1))],
                "shard 2 of 3 missing (given: 0, 1)",
            ),
            (
                vec![(d("a"), m(0, 2, 1)), (d("b"), m(0, 2, 1))],
                "shard 0/2 given twice: a and b",
            ),
            (
                vec![(d("a"), m(0, 2, 1)), (d("b"), m(1, 2, 2_000_000))],
                "shards disagree on T0: a says",
            ),
            (
                vec![(d("a"), m(0, 2, 1)), (d("b"), m(1, 3, 1))],
                "shards disagree on N: a says 2, b says 3",
            ),
        ];
        for (given, want) in table {
            let e = check(&given).unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{e}");
        }
        let mut late = ok.clone();
        late[1].1.status = "late".into();
        assert!(check(&late).unwrap_err().contains("started late"));
        let mut other = ok;
        other[1].1.run_id = "r2".into();
        assert!(check(&other)
            .unwrap_err()
            .contains("the run id: a says r1, b says r2"));
    }
}
