//! The `fake-remotes` binary serving a scenario file, as a separate process (killed at
//! the end): it prints where it listens, serves mail, answers the API; bad input exits 2.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_fake-remotes");

fn scenario(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Kills the process when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a process to exit within [`WAIT`]: (code, stderr).
fn exit_of(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn serves_a_scenario_file_and_its_api() {
    let file = scenario(
        "serve",
        "version: 1\nname: x\nseed: 3\nload: { ignored: true }\nremotes:\n  ok: { domains: [ok.test] }\n  down: { domains: [down.test] }\nfaults:\n  - { remote: down, at: 0s, fault: refuse }\n  - { node: n1, at: 0s, fault: stuck }\n",
    );
    // A host name, as `mailquake remotes --api` takes it: bound at its first address.
    let mut child = Command::new(BIN)
        .arg(&file)
        .args(["--api", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-remotes");
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    // The start-up lines: one per remote (with `bounces`, added as mailquake adds it),
    // the test CA, then the API. Read on a thread: a
    // blocking pipe.
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take(5)
            .collect::<Vec<_>>()
    });
    let lines = tokio::task::spawn_blocking(move || lines.join().unwrap());
    let lines = tokio::time::timeout(WAIT, lines)
        .await
        .expect("start-up lines in time")
        .unwrap();
    let addr_after = |prefix: &str| -> SocketAddr {
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {lines:?}"));
        line[prefix.len()..]
            .split([' ', '/'])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let ok = addr_after("fake-remotes: remote ok listening on ");
    let down = addr_after("fake-remotes: remote down listening on ");
    addr_after("fake-remotes: remote bounces listening on ");
    let api = addr_after("fake-remotes: control API on http://");
    assert!(api.ip().is_loopback(), "localhost:0 bound {api}");
    let ca_line = lines
        .iter()
        .find(|l| l.starts_with("fake-remotes: STARTTLS test CA in "))
        .expect("the CA line");
    let ca_path = ca_line["fake-remotes: STARTTLS test CA in ".len()..]
        .split(' ')
        .next()
        .unwrap();
    let ca = std::fs::read_to_string(ca_path).expect("the CA file is written");
    assert_eq!(
        get(api, "/tls/ca.pem").await.body,
        ca,
        "the file and the API agree"
    );

    assert!(send_mail(ok, "mq.1.0@ok.test").await.starts_with("250 "));
    eventually("refused by the timeline", || refused(down)).await;
    eventually("the message is counted", || async move {
        get(api, "/remotes").await.json()["remotes"][0]["counters"]["messages"] == 1
    })
    .await;
    let all = get(api, "/remotes").await.json();
    assert_eq!(all["remotes"][1]["faults"], serde_json::json!(["refuse"]));
    assert_eq!(all["remotes"][1]["set_by"], "timeline");
}

#[test]
fn bad_files_and_an_unprotected_public_api_exit_2_with_one_line() {
    let bad = scenario("bad", "remotes:\n  ok: { domains: [ok.test] }\nfaults:\n  - { remote: nope, at: 1s, fault: refuse }\n");
    let child = Command::new(BIN)
        .arg(&bad)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = exit_of(child);
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim(),
        format!(
            "{}:4:15: faults[0].remote: no remote named `nope` (remotes: ok)",
            bad.display()
        )
    );

    // The token rule holds for names too (`0` is 0.0.0.0, resolved without DNS); what
    // cannot be an address is refused on one line, as `mailquake remotes` refuses it.
    let good = scenario("public", "remotes:\n  ok: { domains: [ok.test] }\n");
    for (api, want) in [
        ("0.0.0.0:0", "not loopback-only"),
        ("0:0", "not loopback-only"),
        (
            "localhost",
            "fake-remotes: --api localhost: expected HOST:PORT",
        ),
    ] {
        let child = Command::new(BIN)
            .arg(&good)
            .args(["--api", api])
            .env_remove("MAILQUAKE_REMOTES_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (code, err) = exit_of(child);
        assert_eq!(code, Some(2), "{api}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{api}: {err}");
        assert!(err.contains(want), "{api}: {err}");
        if want == "not loopback-only" {
            assert!(err.contains("--token"), "{api}: {err}");
        }
    }
}

/// Hostile files: each refused on one exact line, exit 2, long before [`HOSTILE_BOUND`]
/// (a FIFO with no writer or `/dev/zero` would block or fill memory if read naively).
#[test]
fn hostile_files_exit_2_with_one_line_quickly() {
    const HOSTILE_BOUND: Duration = Duration::from_secs(60);
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.yaml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = dir.join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap(); // sparse
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let mut bomb = String::from("x0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (level, pair) in b"abcdefghi".windows(2).enumerate() {
        let alias = format!("*{}", pair[0] as char);
        let items = [alias.as_str(); 9].join(", ");
        bomb.push_str(&format!("x{}: &{} [{items}]\n", level + 1, pair[1] as char));
    }
    bomb.push_str("load: *i\nremotes: { ok: { domains: [ok.test] } }\n");
    let mut many = String::from("remotes:\n");
    for i in 0..10_000 {
        many.push_str(&format!("  r{i}: {{ domains: [r{i}.test] }}\n"));
    }
    let regular = "a scenario is a regular YAML file";
    let cases = [
        (dir.clone(), format!("is a directory: {regular}")),
        ("/dev/zero".into(), format!("is a character device: {regular}")),
        (fifo, format!("is a FIFO (named pipe): {regular}")),
        (big, "the file is 104857600 bytes: a scenario file is at most 1 MiB (1048576 bytes)".into()),
        (write("nul.yaml", "remotes:\n  ok\0: {}\n".into()), "2:5: a NUL byte: this is binary data, a scenario is YAML text".into()),
        (write("deep.yaml", format!("load: {}", "[".repeat(100_000))), "1:39: load: nested deeper than 32 levels of maps and lists: a scenario needs a handful".into()),
        (write("bomb.yaml", bomb), "6:9: x5[0][2][0][5][4]: more than 100000 YAML values (aliases expanded): a scenario has far fewer; an alias bomb?".into()),
        (write("many.yaml", many), "1002:3: remotes: 10000 remotes: at most 1000 are allowed".into()),
    ];
    for (path, want) in cases {
        let started = Instant::now();
        let mut child = Command::new(BIN)
            .arg(&path)
            .args(["--api", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > HOSTILE_BOUND {
                let _ = child.kill();
                panic!("{} did not exit in time", path.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
        let sep = if want.starts_with(|c: char| c.is_ascii_digit()) {
            ":"
        } else {
            ": "
        };
        assert_eq!(err.trim_end(), format!("{}{sep}{want}", path.display()));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
