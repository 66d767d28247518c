//! `mailquake remotes FILE` in its own process and its control API: start it on
//! 127.0.0.1:0 and learn the API's address, plain HTTP/1.1 requests to it, and the
//! attached scenario pointed at it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::binary::{mailquake_os, Proc};
use super::scenario;

/// How long the API may take to answer.
const WAIT: Duration = Duration::from_secs(10);

/// `mailquake remotes FILE --api 127.0.0.1:0`, killed when dropped.
pub struct Served {
    _proc: Proc,
    pub api: SocketAddr,
}

/// Starts `mailquake remotes FILE` and waits (bounded) until it says where its API is.
pub fn serve(file: &Path) -> Served {
    let mut proc = mailquake_os(&[
        "remotes".as_ref(),
        file.as_os_str(),
        "--api".as_ref(),
        "127.0.0.1:0".as_ref(),
    ])
    .start();
    let prefix = "mailquake: control API on http://";
    let line = proc.wait_stdout(prefix);
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    let api = rest.split('/').next().unwrap().parse().unwrap();
    Served { _proc: proc, api }
}

/// One plain HTTP/1.1 request without a body; (status, body).
pub fn http(api: SocketAddr, method: &str, path: &str) -> (u16, String) {
    request(api, method, path, "")
}

/// One plain HTTP/1.1 request; (status, body).
pub fn request(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&api, WAIT).expect("connect to the API");
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text)
        .expect("the API answers in time");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    (head[9..12].parse().unwrap(), body.to_string())
}

/// `GET /remotes`, which must answer 200.
pub fn remotes(api: SocketAddr) -> Value {
    let (status, body) = http(api, "GET", "/remotes");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The attached scenario, pointed at `api`, written into `dir`.
pub fn attached(dir: &Path, api: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(scenario("attached.yaml"))
        .unwrap()
        .replace("API_URL", api);
    let file = dir.join("attached.yaml");
    std::fs::write(&file, edit(text)).unwrap();
    file
}
