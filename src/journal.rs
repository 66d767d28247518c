//! The actions journal: `actions.journal` in a run's output folder, the record of what
//! the run put in force outside its own process — `exec` actions (their `undo` is still
//! owed) and faults on attached remotes (a `DELETE` is owed) — so that whatever kills the
//! run (`kill -9`, the OOM killer, a panic) the guardian (`crate::guardian`) or an
//! operator (`mailquake heal DIR`, `crate::heal`) can undo it afterwards.
//!
//! This module owns the file format and its one writer. JSON lines, append-only, each
//! record synced to disk before the writer is told it is written:
//!
//! - `header` — run id, pid, guardian pid, start time, working directory (once per run
//!   that used the folder);
//! - `applied` — an action, written and synced BEFORE it is applied;
//! - `undone` — its id, written after the undo succeeded;
//! - `finished` — the run ended with nothing in force.
//!
//! An action is in force when it is `applied` and not `undone`. A line that does not
//! parse is skipped: the last one may be torn by a kill mid-write, and a torn `applied`
//! means the action was never applied (it is applied only once its record is synced).
//! No token or password is ever written here.
//!
//! One owner: a thread holds the file; the run's writers (the timeline, the appliers of
//! attached remotes) send records over a channel and await the acknowledgement.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use fake_remotes::Fault;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// The journal's file name in an output folder.
pub const FILE: &str = "actions.journal";

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Header {
        run: String,
        pid: u32,
        /// The guardian's pid, when one was started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        guardian: Option<u32>,
        started: String,
        cwd: PathBuf,
    },
    Applied {
        id: u64,
        what: Action,
        at: String,
    },
    Undone {
        id: u64,
        at: String,
    },
    Finished {
        at: String,
    },
}

/// Something put in force outside the run's process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// An `exec` action whose `run` was started; `undo` reverses it (`sh -c`, in `cwd`).
    Exec {
        name: String,
        run: String,
        undo: String,
        /// Where the commands run (the run's working directory).
        cwd: PathBuf,
    },
    /// Faults set on a remote served elsewhere; `DELETE /remotes/NAME/fault` heals it.
    RemoteFault {
        api_url: String,
        remote: String,
        faults: Vec<Fault>,
    },
}

impl Action {
    /// One phrase for messages: "exec `stuck n2` (undo: ...)".
    pub fn describe(&self) -> String {
        match self {
            Action::Exec { name, undo, .. } => format!("exec `{name}` (undo: {undo})"),
            Action::RemoteFault {
                api_url,
                remote,
                faults,
            } => {
                let kinds: Vec<&str> = faults.iter().map(Fault::kind).collect();
                format!(
                    "{} on remote `{remote}` served at {api_url}",
                    kinds.join(" + ")
                )
            }
        }
    }
}

/// What a journal file says.
#[derive(Debug, Default, PartialEq)]
pub struct State {
    /// The last header (the latest run that used the folder).
    pub header: Option<Record>,
    /// Id → action, for every action applied and not undone, in id order.
    pub in_force: BTreeMap<u64, Action>,
    /// The last run ended cleanly with nothing in force.
    pub finished: bool,
    /// The highest id seen.
    pub last_id: u64,
    /// Lines that did not parse (a torn last line, mostly).
    pub skipped: usize,
}

impl State {
    /// Folds the journal's text into its state; never fails.
    pub fn parse(text: &str) -> State {
        let mut state = State::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Record>(line) {
                Ok(record) => state.apply(record),
                Err(_) => state.skipped += 1,
            }
        }
        state
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Header { .. } => {
                self.finished = false;
                self.header = Some(record);
            }
            Record::Applied { id, what, .. } => {
                self.finished = false;
                self.last_id = self.last_id.max(id);
                self.in_force.insert(id, what);
            }
            Record::Undone { id, .. } => {
                self.in_force.remove(&id);
            }
            Record::Finished { .. } => self.finished = true,
        }
    }

    /// The pid of the run that wrote the last header.
    pub fn pid(&self) -> Option<u32> {
        match &self.header {
            Some(Record::Header { pid, .. }) => Some(*pid),
            _ => None,
        }
    }
}

/// Reads `DIR/actions.journal`; `Err` (one line) when there is none or it is unreadable.
pub fn read(dir: &Path) -> Result<State, String> {
    let path = dir.join(FILE);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(State::parse(&String::from_utf8_lossy(&bytes)))
}

/// Now, RFC 3339 with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Appends one record and syncs it to disk.
pub fn append(file: &mut File, record: &Record) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_data()
}

/// Opens `DIR/actions.journal` for appending. A journal left by a run killed mid-write
/// may end with a torn line: it is ended first, so the next record stands on its own.
pub fn open(dir: &Path) -> std::io::Result<File> {
    let path = dir.join(FILE);
    let ends_torn = std::fs::read(&path)
        .map(|b| b.last().is_some_and(|&c| c != b'\n'))
        .unwrap_or(false);
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    if ends_torn {
        file.write_all(b"\n")?;
    }
    Ok(file)
}

/// What the writer is asked to do.
enum Request {
    Applied(Action, oneshot::Sender<Result<u64, String>>),
    Undone(u64, oneshot::Sender<Result<(), String>>),
    /// Write `finished` if nothing is in force; answers what still is.
    Finish(oneshot::Sender<Result<Vec<Action>, String>>),
}

/// The run's handle on its journal; clones share the one writer thread, which ends when
/// the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Journal {
    requests: mpsc::UnboundedSender<Request>,
    dir: PathBuf,
    run_id: String,
}

impl Journal {
    /// Opens (or continues) `DIR/actions.journal`, writes this run's header and starts
    /// the writer thread. Actions a previous run left in force there stay in force.
    pub fn create(
        dir: &Path,
        run: &str,
        guardian: Option<u32>,
        cwd: PathBuf,
    ) -> Result<Journal, String> {
        let path = dir.join(FILE);
        let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let state = read(dir).unwrap_or_default();
        let mut file = open(dir).map_err(failed)?;
        let header = Record::Header {
            run: run.to_string(),
            pid: std::process::id(),
            guardian,
            started: now(),
            cwd,
        };
        append(&mut file, &header).map_err(failed)?;
        let (requests, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            file,
            path: path.clone(),
            in_force: state.in_force,
            last_id: state.last_id,
        };
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer.serve(rx))
            .map_err(failed)?;
        Ok(Journal {
            requests,
            dir: dir.to_path_buf(),
            run_id: run.to_string(),
        })
    }

    /// The run id its header gives (the ledger's tracking ids use the same).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The output folder it lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records `what` as applied (synced); apply it only after this returns `Ok(id)`.
    pub async fn applied(&self, what: Action) -> Result<u64, String> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Applied(what, tx), rx).await?
    }

    /// Records that the action `id` was undone.
    pub async fn undone(&self, id: u64) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Undone(id, tx), rx).await?
    }

    /// [`Journal::undone`], a failure said on one line: the action then stays in force in
    /// the journal, and is undone again by the guardian or `mailquake heal` — harmless.
    pub async fn undone_logged(&self, id: u64) {
        if let Err(e) = self.undone(id).await {
            crate::report::progress::log_line(&format!("mailquake: {e}"));
        }
    }

    /// At the end of a run: writes `finished` when nothing is in force; returns what
    /// still is (then the journal is left unfinished for the guardian or `heal`).
    pub async fn finish(&self) -> Result<Vec<Action>, String> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Finish(tx), rx).await?
    }

    async fn ask<T>(&self, request: Request, answer: oneshot::Receiver<T>) -> Result<T, String> {
        let gone = || "the actions journal's writer stopped".to_string();
        self.requests.send(request).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

/// The thread that owns the file.
struct Writer {
    file: File,
    path: PathBuf,
    in_force: BTreeMap<u64, Action>,
    last_id: u64,
}

impl Writer {
    fn serve(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        while let Some(request) = requests.blocking_recv() {
            match request {
                Request::Applied(what, reply) => {
                    let id = self.last_id + 1;
                    let record = Record::Applied {
                        id,
                        what: what.clone(),
                        at: now(),
                    };
                    let written = self.write(&record).map(|()| {
                        self.last_id = id;
                        self.in_force.insert(id, what);
                        id
                    });
                    let _ = reply.send(written);
                }
                Request::Undone(id, reply) => {
                    let written = self.write(&Record::Undone { id, at: now() });
                    if written.is_ok() {
                        self.in_force.remove(&id);
                    }
                    let _ = reply.send(written);
                }
                Request::Finish(reply) => {
                    let still: Vec<Action> = self.in_force.values().cloned().collect();
                    let written = if still.is_empty() {
                        self.write(&Record::Finished { at: now() })
                    } else {
                        Ok(())
                    };
                    let _ = reply.send(written.map(|()| still));
                }
            }
        }
    }

    fn write(&mut self, record: &Record) -> Result<(), String> {
        append(&mut self.file, record)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(name: &str) -> Action {
        Action::Exec {
            name: name.into(),
            run: format!("touch {name}"),
            undo: format!("rm {name}"),
            cwd: "/tmp".into(),
        }
    }

    fn line(record: &Record) -> String {
        serde_json::to_string(record).unwrap()
    }

    #[test]
    fn in_force_is_applied_minus_undone_and_torn_lines_are_skipped() {
        let header = Record::Header {
            run: "abc".into(),
            pid: 42,
            guardian: None,
            started: "t".into(),
            cwd: "/".into(),
        };
        let applied = |id, name| Record::Applied {
            id,
            what: exec(name),
            at: "t".into(),
        };
        let undone = |id| Record::Undone { id, at: "t".into() };
        let finished = Record::Finished { at: "t".into() };
        let h = line(&header);
        let (a1, a2, u1, u2, f) = (
            line(&applied(1, "a")),
            line(&applied(2, "b")),
            line(&undone(1)),
            line(&undone(2)),
            line(&finished),
        );
        let torn = &a2[..a2.len() / 2];
        // (journal lines, ids in force, finished, skipped)
        let table: Vec<(Vec<&str>, Vec<u64>, bool, usize)> = vec![
            (vec![], vec![], false, 0),
            (vec![&h], vec![], false, 0),
            (vec![&h, &a1], vec![1], false, 0),
            (vec![&h, &a1, &a2, &u1], vec![2], false, 0),
            (vec![&h, &a1, &a2, &u1, &u2, &f], vec![], true, 0),
            // Killed while writing an `applied`: that action was never applied.
            (vec![&h, &a1, torn], vec![1], false, 1),
            // Undone twice (heal run again): still nothing in force.
            (vec![&h, &a1, &u1, &u1], vec![], false, 0),
            // A torn line ended by the next run, which starts a new header.
            (vec![&h, &a1, torn, &h], vec![1], false, 1),
            (vec!["not json", "", &h], vec![], false, 1),
        ];
        for (lines, want, finished, skipped) in table {
            let text = lines.join("\n");
            let state = State::parse(&text);
            let ids: Vec<u64> = state.in_force.keys().copied().collect();
            assert_eq!(ids, want, "{lines:?}");
            assert_eq!(state.finished, finished, "{lines:?}");
            assert_eq!(state.skipped, skipped, "{lines:?}");
        }
        assert_eq!(State::parse(&h).pid(), Some(42));
    }

    #[test]
    fn records_have_the_documented_shape() {
        let r = Record::Applied {
            id: 3,
            what: Action::RemoteFault {
                api_url: "http://127.0.0.1:8025".into(),
                remote: "down".into(),
                faults: vec![Fault::Refuse(Default::default())],
            },
            at: "2026-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(
            line(&r),
            r#"{"record":"applied","id":3,"what":{"remote_fault":{"api_url":"http://127.0.0.1:8025","remote":"down","faults":["refuse"]}},"at":"2026-01-01T00:00:00.000Z"}"#
        );
        assert_eq!(exec("x").describe(), "exec `x` (undo: rm x)",);
    }

    #[tokio::test]
    async fn the_writer_continues_a_torn_journal_and_finishes_only_when_nothing_is_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        // A previous run killed mid-write: one action in force, then a torn line.
        let old = Record::Applied {
            id: 7,
            what: exec("old"),
            at: "t".into(),
        };
        std::fs::write(&path, format!("{}\n{{\"record\":\"app", line(&old))).unwrap();

        let journal = Journal::create(dir.path(), "run1", Some(9), "/".into()).unwrap();
        let id = journal.applied(exec("new")).await.unwrap();
        assert_eq!(id, 8, "ids go on from the previous run's");
        journal.undone(id).await.unwrap();
        let still = journal.finish().await.unwrap();
        assert_eq!(still, vec![exec("old")], "the old action is still owed");
        let state = read(dir.path()).unwrap();
        assert_eq!(state.skipped, 1, "only the torn line");
        assert!(!state.finished);
        assert_eq!(state.in_force.keys().copied().collect::<Vec<_>>(), [7]);

        journal.undone(7).await.unwrap();
        assert!(journal.finish().await.unwrap().is_empty());
        let state = read(dir.path()).unwrap();
        assert!(state.finished && state.in_force.is_empty());
        assert!(matches!(
            state.header,
            Some(Record::Header {
                guardian: Some(9),
                ..
            })
        ));
        assert!(read(&dir.path().join("nowhere")).is_err());
    }
}
