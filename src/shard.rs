//! Shards: one run's load sent by N processes (`mailquake run FILE --shard I/N --t0 T0
//! --run-id ID`), judged once by `mailquake merge`.
//!
//! What this module owns: reading a shard's identity from the command line and the
//! environment (`--shard I/N`, or `--shard /N` / `MAILQUAKE_SHARDS=N` with I from
//! `JOB_COMPLETION_INDEX`, as a Kubernetes Indexed Job gives it; `MAILQUAKE_T0`,
//! `MAILQUAKE_RUN_ID`), the late-start rule (a shard that starts more than the tolerance
//! after T0 exits [`LATE_EXIT`] without sending anything), and the manifest every
//! shard writes beside its saved data (`shard.json`) that the merge checks.
//!
//! The split: every shard walks the whole load schedule and sends every N-th message of
//! it (`tracking::Part`: its k-th message is `k * N + I`), so the union of the shards is
//! the single run's load and tracking ids never collide. Faults are applied once: shard
//! 0 runs the fault timeline (and the queue probes) through the remotes' control API
//! under leases, as any attached run does; the other shards apply none.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::tracking::Part;

/// The manifest's file name in a shard's folder.
pub const MANIFEST_FILE: &str = "shard.json";
/// Exit code of a shard that started later than T0 plus the tolerance.
pub const LATE_EXIT: u8 = 4;
/// The default `--late-tolerance`.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5);
/// The environment variables a shard reads when the flags are not given.
pub const SHARDS_ENV: &str = "MAILQUAKE_SHARDS";
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
pub const T0_ENV: &str = "MAILQUAKE_T0";
pub const RUN_ID_ENV: &str = "MAILQUAKE_RUN_ID";

/// Who a shard is and when its run starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub part: Part,
    /// The run's start, µs since the Unix epoch.
    pub t0_us: u64,
    pub run_id: String,
    pub tolerance: Duration,
}

/// What the command line and the environment gave.
#[derive(Clone, Debug, Default)]
pub struct ShardArgs {
    /// `I/N` or `/N`.
    pub shard: Option<String>,
    pub t0: Option<String>,
    pub run_id: Option<String>,
    pub tolerance: Option<String>,
}

/// `Ok(None)`: not a shard. `env` reads a variable (the process environment in use).
pub fn resolve(
    args: &ShardArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardSpec>, String> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let shard = match (&args.shard, env(SHARDS_ENV)) {
        (Some(s), _) => s.clone(),
        (None, Some(n)) => format!("/{n}"),
        (None, None) => {
            if args.t0.is_some() || args.run_id.is_some() {
                return Err("--t0 and --run-id are for shards: give --shard I/N too".into());
            }
            return Ok(None);
        }
    };
    let (i, n) = shard
        .split_once('/')
        .ok_or_else(|| format!("--shard {shard}: expected I/N (e.g. 0/3) or /N"))?;
    let count: u64 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| format!("--shard {shard}: N must be a whole number from 1 to 1024"))?;
    let index_text = match i.trim() {
        "" => env(INDEX_ENV)
            .ok_or_else(|| format!("--shard {shard}: no index given and {INDEX_ENV} is not set"))?,
        i => i.to_string(),
    };
    let index: u64 = index_text
        .trim()
        .parse()
        .ok()
        .filter(|i| *i < count)
        .ok_or_else(|| format!("shard index `{index_text}`: must be 0 to {}", count - 1))?;
    let t0_text = args
        .t0
        .clone()
        .or_else(|| env(T0_ENV))
        .ok_or_else(|| format!("shards need --t0 RFC3339 (or {T0_ENV}), the same for all"))?;
    let t0_us = parse_t0(&t0_text)?;
    let run_id = args
        .run_id
        .clone()
        .or_else(|| env(RUN_ID_ENV))
        .ok_or_else(|| format!("shards need --run-id ID (or {RUN_ID_ENV}), the same for all"))?;
    if run_id.is_empty()
        || run_id.len() > 32
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "--run-id {run_id}: 1 to 32 letters, digits, `-` or `_` (it starts every tracking id)"
        ));
    }
    let tolerance = match &args.tolerance {
        None => DEFAULT_TOLERANCE,
        Some(t) => humantime::parse_duration(t)
            .map_err(|e| format!("--late-tolerance {t}: {e} (e.g. 5s)"))?,
    };
    Ok(Some(ShardSpec {
        part: Part { index, count },
        t0_us,
        run_id,
        tolerance,
    }))
}

/// RFC 3339 → µs since the Unix epoch.
pub fn parse_t0(text: &str) -> Result<u64, String> {
    let t = humantime::parse_rfc3339_weak(text.trim())
        .map_err(|e| format!("--t0 {text}: {e} (RFC 3339, e.g. 2030-01-02T03:04:05Z)"))?;
    Ok(t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64))
}

/// RFC 3339 (UTC, µs) of `us` since the Unix epoch.
pub fn format_t0(us: u64) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(us)).to_string()
}

impl ShardSpec {
    /// `Some(late by)` when `now_us` is past T0 plus the tolerance.
    pub fn late_at(&self, now_us: u64) -> Option<Duration> {
        let late = Duration::from_micros(now_us.saturating_sub(self.t0_us));
        (late > self.tolerance).then_some(late)
    }

    /// The one line a late shard prints.
    pub fn late_line(&self, late: Duration) -> String {
        format!(
            "mailquake: shard {}/{} started {:.1}s after T0 {} (tolerance {}): no load sent, exit {LATE_EXIT}",
            self.part.index,
            self.part.count,
            late.as_secs_f64(),
            format_t0(self.t0_us),
            humantime::format_duration(self.tolerance)
        )
    }

    pub fn label(&self) -> String {
        format!("{}/{}", self.part.index, self.part.count)
    }
}

/// `shard.json`: who wrote this folder, for `mailquake merge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub index: u64,
    pub count: u64,
    /// RFC 3339 UTC.
    pub t0: String,
    pub t0_us: u64,
    pub run_id: String,
    /// SHA-256 of the scenario file as read, hex.
    pub scenario_sha256: String,
    /// `complete` (exit 0), `incomplete` (exit 3: aborted or events lost) or `late`
    /// (exit 4: nothing sent, no data).
    pub status: String,
}

impl Manifest {
    pub fn new(spec: &ShardSpec, scenario_text: &str, status: &str) -> Manifest {
        Manifest {
            index: spec.part.index,
            count: spec.part.count,
            t0: format_t0(spec.t0_us),
            t0_us: spec.t0_us,
            run_id: spec.run_id.clone(),
            scenario_sha256: sha256_hex(scenario_text.as_bytes()),
            status: status.into(),
        }
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        std::fs::write(dir.join(MANIFEST_FILE), json)
            .map_err(|e| format!("{}: {e}", dir.join(MANIFEST_FILE).display()))
    }

    /// Reads `dir/shard.json`; `Err` is one line naming the file.
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: cannot read: {e} (is {} a shard's folder?)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a shard manifest: {e}", path.display()))
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(shard: Option<&str>) -> ShardArgs {
        ShardArgs {
            shard: shard.map(String::from),
            t0: Some("2030-01-02T03:04:05Z".into()),
            run_id: Some("r1".into()),
            tolerance: None,
        }
    }

    #[test]
    fn shard_from_flags_and_environment() {
        let none = |_: &str| None;
        let spec = resolve(&args(Some("2/3")), &none).unwrap().unwrap();
        assert_eq!(spec.part, Part { index: 2, count: 3 });
        assert_eq!(spec.t0_us, parse_t0("2030-01-02T03:04:05Z").unwrap());
        let indexed = |k: &str| (k == INDEX_ENV).then(|| "1".to_string());
        let spec = resolve(&args(Some("/3")), &indexed).unwrap().unwrap();
        assert_eq!(spec.part.index, 1);
        let both = |k: &str| match k {
            SHARDS_ENV => Some("4".to_string()),
            INDEX_ENV => Some("3".to_string()),
            _ => None,
        };
        let spec = resolve(&args(None), &both).unwrap().unwrap();
        assert_eq!(spec.part, Part { index: 3, count: 4 });
        assert!(resolve(&ShardArgs::default(), &none).unwrap().is_none());
        for (bad, want) in [
            ("3/3", "must be 0 to 2"),
            ("/3", "JOB_COMPLETION_INDEX is not set"),
            ("x", "expected I/N"),
            ("0/0", "N must be"),
        ] {
            let e = resolve(&args(Some(bad)), &none).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let mut no_t0 = args(Some("0/2"));
        no_t0.t0 = None;
        assert!(resolve(&no_t0, &none).unwrap_err().contains("--t0"));
    }

    #[test]
    fn late_beyond_the_tolerance() {
        let spec = resolve(&args(Some("0/2")), &|_| None).unwrap().unwrap();
        assert_eq!(spec.late_at(spec.t0_us - 1_000_000), None);
        assert_eq!(spec.late_at(spec.t0_us + 5_000_000), None);
        assert!(spec.late_at(spec.t0_us + 5_000_001).is_some());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
