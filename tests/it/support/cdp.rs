//! Headless Chromium driven over the DevTools protocol, with the standard library only:
//! the browser started on a loopback debugging port (`--remote-debugging-port=0`, the
//! port read from its stderr), a page target found through `/json/list`, and a minimal
//! WebSocket client (RFC 6455: client frames masked, text messages, fragments joined)
//! for `Runtime.evaluate` and `Input.dispatchMouseEvent`. Every read has a timeout; the
//! browser is killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long the browser and each answer may take.
const WAIT: Duration = Duration::from_secs(20);

/// A headless Chromium and one of its pages.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    page: Socket,
    next_id: u64,
}

/// The browser binary, if one is installed.
pub fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_string)
}

impl Browser {
    /// Starts `binary` headless on `url` and connects to that page.
    pub fn open(binary: &str, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,1800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(ws) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(ws.to_string());
                }
            }
        });
        let ws = rx
            .recv_timeout(WAIT)
            .expect("chromium says where DevTools listens");
        let host = ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let addr: SocketAddr = host.parse().unwrap();
        // The page target (the URL given on the command line).
        let deadline = Instant::now() + WAIT;
        let page_ws = loop {
            let list: Value = serde_json::from_str(&http_get(addr, "/json/list")).unwrap();
            let page = list.as_array().unwrap().iter().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
            });
            if let Some(p) = page {
                break p["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no page target for {url}: {list}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let page = Socket::connect(&page_ws);
        Browser {
            child,
            _profile: profile,
            page,
            next_id: 1,
        }
    }

    /// Calls a DevTools method on the page; its `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let msg = self.call_raw(method, params);
        assert!(msg["error"].is_null(), "{method}: {msg}");
        msg["result"].clone()
    }

    /// Calls a DevTools method; the whole answer (`result` or `error`).
    fn call_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.page
            .send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let msg: Value = serde_json::from_str(&self.page.recv()).unwrap();
            if msg["id"] == id {
                return msg;
            }
        }
    }

    /// Evaluates `expression` in the page; its value (JSON-able).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r["exceptionDetails"].is_null(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy (bounded); its value.
    pub fn wait_for(&mut self, expression: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            // While the page loads there is no context to evaluate in: try again.
            let r = self.call_raw(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            );
            let v = if r["error"].is_null() && r["result"]["exceptionDetails"].is_null() {
                r["result"]["result"]["value"].clone()
            } else {
                Value::Null
            };
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "not true within {limit:?}: {expression}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real click (mouse pressed and released) in the middle of the element `selector`.
    pub fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on the DevTools HTTP endpoint (Host must be an address, not a name).
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // It may keep the connection open: read the head, then Content-Length bytes.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("DevTools answers in time");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A client WebSocket (text messages only).
struct Socket {
    stream: TcpStream,
}

impl Socket {
    fn connect(url: &str) -> Socket {
        let rest = url.strip_prefix("ws://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream
                .read_exact(&mut byte)
                .expect("the handshake's answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Socket { stream }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// The next text message (fragments joined; control frames skipped).
    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).expect("a frame in time");
            let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).unwrap();
            match opcode {
                0x0 | 0x1 => message.extend_from_slice(&payload),
                0x8 => panic!("the browser closed the DevTools socket"),
                _ => continue,
            }
            if fin && opcode != 0x9 && opcode != 0xA {
                return String::from_utf8(message).unwrap();
            }
        }
    }
}
