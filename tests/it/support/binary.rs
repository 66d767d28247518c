//! Running the `mailquake` binary: [`Mailquake`] builds one invocation (arguments,
//! environment, working folder), [`Proc`] is the running process, whose stdout and stderr
//! are drained on threads while it runs (a child that writes more than a pipe buffer
//! never blocks), bounded by a deadline that kills it and fails with what it printed.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest a process may take to start, or to stop after a signal, on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// One invocation of `mailquake`, not yet started. `MAILQUAKE_REMOTES_TOKEN` is removed
/// from its environment unless [`Mailquake::env`] sets it.
pub struct Mailquake {
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
}

/// `mailquake ARGS`.
pub fn mailquake(args: &[&str]) -> Mailquake {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    mailquake_os(&args)
}

/// `mailquake ARGS`, for arguments that are paths.
pub fn mailquake_os(args: &[&OsStr]) -> Mailquake {
    Mailquake {
        args: args.iter().map(|a| a.to_os_string()).collect(),
        env: vec![("MAILQUAKE_REMOTES_TOKEN".into(), None)],
        cwd: None,
    }
}

/// `mailquake run FILE --out OUT`.
pub fn mailquake_run(file: &Path, out: &Path) -> Mailquake {
    mailquake_os(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

/// What a finished process printed and how it exited.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the start to the exit.
    pub elapsed: Duration,
}

impl Finished {
    /// (exit code, stdout, stderr).
    pub fn parts(self) -> (Option<i32>, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

impl Mailquake {
    /// Adds `arg` after the arguments given so far.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets `name` to `value` (`None` removes it).
    pub fn env(mut self, name: &str, value: Option<&str>) -> Self {
        self.env.push((name.into(), value.map(OsString::from)));
        self
    }

    /// Sets (or, for `None`, removes) each variable of `vars`.
    pub fn envs(mut self, vars: &[(&str, Option<&str>)]) -> Self {
        for (name, value) in vars {
            self = self.env(name, *value);
        }
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailquake"));
        command.args(&self.args);
        for (name, value) in &self.env {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command.stdin(Stdio::null());
        command
    }

    /// Starts the process with stdout discarded and stderr written to `log`: for a run
    /// whose guardian outlives it (the guardian shares stderr, so a pipe would stay open).
    /// The caller waits for and kills it.
    pub fn spawn_logged(self, log: &Path) -> Child {
        self.command()
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("create the stderr log"))
            .spawn()
            .expect("start mailquake")
    }

    /// Starts the process, its pipes drained on threads.
    pub fn start(self) -> Proc {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mailquake");
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        Proc {
            child,
            what: format!("mailquake {:?}", self.args),
            started: Instant::now(),
            lines: [out, err],
            seen: [Vec::new(), Vec::new()],
        }
    }

    /// Runs it to its exit; killed, and the test failed with what it printed, if it
    /// outlives `limit`.
    pub fn run(self, limit: Duration) -> Finished {
        self.start().exit(limit)
    }

    /// [`Mailquake::run`] from async code, on a blocking thread (the test's runtime keeps
    /// serving the fake remotes the process talks to).
    pub async fn run_async(self, limit: Duration) -> Finished {
        tokio::task::spawn_blocking(move || self.run(limit))
            .await
            .expect("the runner thread")
    }
}

/// A running `mailquake` process; killed when dropped.
pub struct Proc {
    child: Child,
    what: String,
    started: Instant,
    /// stdout, stderr: each line as read, with its line end.
    lines: [mpsc::Receiver<String>; 2],
    seen: [Vec<String>; 2],
}

const STDOUT: usize = 0;
const STDERR: usize = 1;

/// Sends every line of `pipe` (with its line end; invalid UTF-8 replaced) on the returned
/// channel, until it closes.
fn lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            line.clear();
        }
    });
    rx
}

impl Proc {
    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Takes whatever the readers have sent so far.
    fn collect(&mut self) {
        for which in [STDOUT, STDERR] {
            while let Ok(line) = self.lines[which].try_recv() {
                self.seen[which].push(line);
            }
        }
    }

    fn printed(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.seen[STDOUT].concat(),
            self.seen[STDERR].concat()
        )
    }

    /// Waits (bounded by [`WAIT`]) for a line of stdout or stderr containing `text`;
    /// returns it without its line end.
    fn wait_line(&mut self, which: usize, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines[which].recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.seen[which].push(line.clone());
                    if line.contains(text) {
                        return line.trim_end_matches(['\r', '\n']).to_string();
                    }
                }
                Err(_) => {
                    self.collect();
                    panic!(
                        "{}: no line with {text:?} in {WAIT:?}:\n{}",
                        self.what,
                        self.printed()
                    )
                }
            }
        }
    }

    /// Waits (bounded) for a line of stderr containing `text`; returns it.
    pub fn wait_stderr(&mut self, text: &str) -> String {
        self.wait_line(STDERR, text)
    }

    /// Waits (bounded) for a line of stdout containing `text`; returns it.
    pub fn wait_stdout(&mut self, text: &str) -> String {
        self.wait_line(STDOUT, text)
    }

    /// Sends signal `name` (`TERM`, `INT`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the exit, at most `limit` from now (killed and failed with what it
    /// printed past that); everything it printed.
    pub fn exit(&mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            self.collect();
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.collect();
                panic!(
                    "{} still running after {limit:?}:\n{}",
                    self.what,
                    self.printed()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.started.elapsed();
        // The pipes closed with the process: the readers send the rest and stop (an
        // orphaned `exec` child could hold them open, hence the timeout).
        for which in [STDOUT, STDERR] {
            while let Ok(line) = self.lines[which].recv_timeout(Duration::from_secs(5)) {
                self.seen[which].push(line);
            }
        }
        Finished {
            code: status.code(),
            stdout: self.seen[STDOUT].concat(),
            stderr: self.seen[STDERR].concat(),
            elapsed,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child that writes more than a pipe buffer (64 KiB on Linux) before it exits: the
/// runner drains it while waiting, so the child ends at once rather than at the deadline.
#[test]
fn the_runner_drains_more_than_a_pipe_buffer_while_waiting() {
    const REMOTES: usize = 999;
    let long = format!("{}.{}.test", "x".repeat(50), "y".repeat(40));
    let mut text = String::from("version: 1\nname: wide\nremotes:\n");
    for i in 0..REMOTES {
        text.push_str(&format!(
            "  r{i}: {{ domains: [d{i}-{long}], listen: 127.0.0.1:{} }}\n",
            20_000 + i
        ));
    }
    text.push_str("  bounces: { domains: [bounces.test], listen: 127.0.0.1:19999 }\n");
    text.push_str(&format!(
        "load:\n  steps: [ {{ rate: 1/s, for: 1s }} ]\n  mix: {{ d0-{long}: 100% }}\nchecks: [ no_loss ]\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wide.yaml");
    std::fs::write(&file, text).unwrap();
    let routes = mailquake_os(&["routes".as_ref(), file.as_os_str()]).run(WAIT);
    assert_eq!(routes.code, Some(0), "{}", routes.stderr);
    assert!(
        routes.stdout.len() > 100 * 1024,
        "more than a pipe buffer: {} bytes",
        routes.stdout.len()
    );
    let routed = routes
        .stdout
        .lines()
        .filter(|l| l.contains("\tsmtp:[127.0.0.1]:"))
        .count();
    assert_eq!(
        routed,
        REMOTES + 1,
        "every domain routed, all of stdout read"
    );
}
