//! The attempt log: what happened to each message beyond its ledger record — every
//! delivery attempt a remote saw (RCPT and its reply), each copy that arrived (and through
//! which node), a rejection at DATA or the final dot, a fault that acted on it, a bounce,
//! and the cluster's refusal at submission. `mailquake explain DIR ID` reads it back from
//! `attempts.bin` to print one message's life.
//!
//! Bounded: the first [`PER_MESSAGE`] entries of a message are kept (a message retried
//! every few seconds against a dead remote would otherwise fill it), and at most
//! [`TOTAL`] entries in all (16 MB); what is left out is counted, never silently lost.
//!
//! `attempts.bin` (format 1, little-endian): `"MQATTEMP"`, `u32` version, `u32` header
//! length H, H bytes of JSON header ([`AttemptsHeader`]), then N records of 16 bytes:
//! `seq u32, at_ms u32, code u16, label u16, kind u8, remote u8, rcpt u8, node u8`.

use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ledger::{intern, NO_NODE};

pub const FILE: &str = "attempts.bin";
/// Entries kept per message (the first ones).
pub const PER_MESSAGE: u8 = 32;
/// Entries kept in all: 16 bytes each, 16 MB.
pub const TOTAL: usize = 1_000_000;
const MAGIC: &[u8; 8] = b"MQATTEMP";
const FORMAT_VERSION: u32 = 1;
const FRAMING: super::framed::Framing = super::framed::Framing {
    magic: MAGIC,
    version: FORMAT_VERSION,
    what: "attempt log",
    max_header: 64 << 20,
};
const RECORD_SIZE: usize = 16;
/// "None" for the `rcpt`, `remote` and `label` fields.
pub const NONE_U8: u8 = u8::MAX;
pub const NO_LABEL: u16 = u16::MAX;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The cluster did not accept it at submission (`code` 0: no reply; `label`: phase).
    NotAccepted = 1,
    /// A remote answered RCPT TO for one recipient (`code`: its reply).
    Rcpt = 2,
    /// A copy arrived for one recipient (250 at the final dot; `node` relayed it).
    Arrived = 3,
    /// A remote rejected the transaction at DATA or the final dot (`label`: stage).
    Rejected = 4,
    /// A fault acted on the session carrying it (`label`: `fault at stage`).
    FaultFired = 5,
    /// Its bounce (DSN) arrived at the bounce remote.
    Bounced = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::NotAccepted,
            2 => Kind::Rcpt,
            3 => Kind::Arrived,
            4 => Kind::Rejected,
            5 => Kind::FaultFired,
            6 => Kind::Bounced,
            _ => return None,
        })
    }
}

/// One entry of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub seq: u32,
    /// ms since load start.
    pub at_ms: u32,
    pub kind: Kind,
    /// Reply code, 0 for none.
    pub code: u16,
    /// Index into [`AttemptLog::remotes`], or [`NONE_U8`] (submission).
    pub remote: u8,
    /// Recipient index, or [`NONE_U8`].
    pub rcpt: u8,
    /// Relaying node (index into the ledger's nodes), or [`NO_NODE`].
    pub node: u8,
    /// Index into [`AttemptLog::labels`], or [`NO_LABEL`].
    pub label: u16,
}

impl Attempt {
    pub fn new(seq: u32, at_ms: u32, kind: Kind) -> Self {
        Attempt {
            seq,
            at_ms,
            kind,
            code: 0,
            remote: NONE_U8,
            rcpt: NONE_U8,
            node: NO_NODE,
            label: NO_LABEL,
        }
    }
}

/// The bounded log, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptLog {
    pub entries: Vec<Attempt>,
    /// Remote names, indexed by [`Attempt::remote`].
    pub remotes: Vec<String>,
    /// Phase, stage and fault texts, indexed by [`Attempt::label`].
    pub labels: Vec<String>,
    /// Entries per sequence number so far (capped at [`PER_MESSAGE`]).
    per_message: Vec<u8>,
    /// Entries left out because their message already had [`PER_MESSAGE`].
    pub dropped_per_message: u64,
    /// Entries left out because the log held [`TOTAL`].
    pub dropped_total: u64,
}

/// The JSON header of `attempts.bin`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AttemptsHeader {
    pub run_id: String,
    pub remotes: Vec<String>,
    pub labels: Vec<String>,
    pub per_message_cap: u32,
    pub total_cap: u64,
    pub dropped_per_message: u64,
    pub dropped_total: u64,
    pub records: u64,
    pub record_size: u32,
}

impl AttemptLog {
    pub fn remote_index(&mut self, name: &str) -> u8 {
        intern(&mut self.remotes, name).min(usize::from(NONE_U8)) as u8
    }
    pub fn label_index(&mut self, text: &str) -> u16 {
        intern(&mut self.labels, text).min(usize::from(NO_LABEL)) as u16
    }
    pub fn remote_name(&self, i: u8) -> &str {
        self.remotes.get(usize::from(i)).map_or("?", String::as_str)
    }
    pub fn label(&self, i: u16) -> &str {
        self.labels.get(usize::from(i)).map_or("", String::as_str)
    }

    /// Adds an entry unless its message or the log is full (then counts it as dropped).
    pub fn push(&mut self, a: Attempt) {
        let i = a.seq as usize;
        if i >= self.per_message.len() {
            self.per_message.resize(i + 1, 0);
        }
        if self.per_message[i] >= PER_MESSAGE {
            self.dropped_per_message += 1;
        } else if self.entries.len() >= TOTAL {
            self.dropped_total += 1;
        } else {
            self.per_message[i] += 1;
            self.entries.push(a);
        }
    }

    /// The entries of message `seq`, in the order they were recorded.
    pub fn of(&self, seq: u32) -> impl Iterator<Item = &Attempt> {
        self.entries.iter().filter(move |a| a.seq == seq)
    }

    /// Writes `attempts.bin`.
    pub fn write(&self, path: &Path, run_id: &str) -> io::Result<()> {
        let header = AttemptsHeader {
            run_id: run_id.to_string(),
            remotes: self.remotes.clone(),
            labels: self.labels.clone(),
            per_message_cap: u32::from(PER_MESSAGE),
            total_cap: TOTAL as u64,
            dropped_per_message: self.dropped_per_message,
            dropped_total: self.dropped_total,
            records: self.entries.len() as u64,
            record_size: RECORD_SIZE as u32,
        };
        FRAMING.write(
            path,
            &header,
            self.entries.iter().map(|a| {
                let mut b = [0u8; RECORD_SIZE];
                b[0..4].copy_from_slice(&a.seq.to_le_bytes());
                b[4..8].copy_from_slice(&a.at_ms.to_le_bytes());
                b[8..10].copy_from_slice(&a.code.to_le_bytes());
                b[10..12].copy_from_slice(&a.label.to_le_bytes());
                b[12] = a.kind as u8;
                b[13] = a.remote;
                b[14] = a.rcpt;
                b[15] = a.node;
                b
            }),
        )
    }

    /// Reads `attempts.bin`: the header (run id, caps, what was dropped) and the log.
    /// `Err` is a one-line reason.
    pub fn read(path: &Path) -> Result<(AttemptsHeader, AttemptLog), String> {
        let (header, mut input, size, frame): (AttemptsHeader, _, _, _) = FRAMING.read(path)?;
        let expected = frame + header.records * RECORD_SIZE as u64;
        if header.record_size as usize != RECORD_SIZE || size != expected {
            return Err(format!(
                "{size} bytes, but the header announces {} records of {} bytes",
                header.records, header.record_size
            ));
        }
        let mut log = AttemptLog {
            remotes: header.remotes.clone(),
            labels: header.labels.clone(),
            dropped_per_message: header.dropped_per_message,
            dropped_total: header.dropped_total,
            ..Default::default()
        };
        let mut b = [0u8; RECORD_SIZE];
        for _ in 0..header.records {
            input.read_exact(&mut b).map_err(super::framed::truncated)?;
            let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let half = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
            let kind = Kind::from_u8(b[12]).ok_or(format!("unknown entry kind {}", b[12]))?;
            log.entries.push(Attempt {
                seq: word(0),
                at_ms: word(4),
                code: half(8),
                label: half(10),
                kind,
                remote: b[13],
                rcpt: b[14],
                node: b[15],
            });
        }
        Ok((header, log))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_message_and_in_all_are_counted() {
        let mut log = AttemptLog::default();
        for _ in 0..u32::from(PER_MESSAGE) + 3 {
            log.push(Attempt::new(7, 10, Kind::Rcpt));
        }
        log.push(Attempt::new(8, 10, Kind::Rcpt));
        assert_eq!(log.of(7).count(), usize::from(PER_MESSAGE));
        assert_eq!(log.of(8).count(), 1);
        assert_eq!((log.dropped_per_message, log.dropped_total), (3, 0));
        // The total cap: only the count of what is left out grows.
        log.entries.resize(TOTAL, Attempt::new(1, 0, Kind::Rcpt));
        log.push(Attempt::new(9, 10, Kind::Rcpt));
        assert_eq!((log.entries.len(), log.dropped_total), (TOTAL, 1));
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut log = AttemptLog::default();
        let remote = log.remote_index("down");
        let label = log.label_index("refuse at connect");
        log.push(Attempt {
            code: 451,
            remote,
            rcpt: 0,
            label,
            ..Attempt::new(3, 1_500, Kind::Rcpt)
        });
        log.push(Attempt {
            node: 2,
            ..Attempt::new(3, 9_000, Kind::Arrived)
        });
        log.dropped_per_message = 4;
        log.write(&path, "abc").unwrap();
        let (header, back) = AttemptLog::read(&path).unwrap();
        assert_eq!(header.run_id, "abc");
        assert_eq!(back.entries, log.entries);
        assert_eq!(back.remotes, ["down"]);
        assert_eq!(back.label(label), "refuse at connect");
        assert_eq!(back.dropped_per_message, 4);
        // A truncated file is refused with a reason, never a panic.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = AttemptLog::read(&path).unwrap_err();
        assert!(err.contains("header announces 2 records"), "{err}");
    }
}
