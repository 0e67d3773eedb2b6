//! What the tests share: a fleet in a temporary directory, running the plugin through
//! `TestHost` (the same `extern "C"` calls as in the runner), and reading its verdicts.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use am_plugin_api::Level;
use am_plugin_api::records::VerdictRecord;
use am_plugin_api::testing::{Failure, TestHost, run_task};
use am_plugin_config_drift::ConfigDrift;
use serde_json::Value;

/// A directory of node files (and runtime files, references...).
pub struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    pub fn new() -> Self {
        Fleet {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The absolute path of `relative`, as a string for options.
    pub fn path(&self, relative: &str) -> String {
        self.dir.path().join(relative).display().to_string()
    }

    /// Writes `relative` (creating its directory).
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

/// Runs one tick of service `fleet` with `options`.
pub fn run(options: &Value) -> TestHost {
    let mut host = TestHost::new();
    run_task::<ConfigDrift>(&options.to_string(), "fleet", &mut host, 1_000).unwrap();
    host
}

/// Creating the service with `options` fails: the message.
pub fn refused(options: &Value) -> String {
    let mut host = TestHost::new();
    match run_task::<ConfigDrift>(&options.to_string(), "fleet", &mut host, 1_000) {
        Err(Failure::Error(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `(subject, state)` of every verdict, in the order reported.
pub fn states(host: &TestHost) -> Vec<(String, String)> {
    host.verdicts()
        .iter()
        .map(|v| (v.subject.clone(), v.state.clone()))
        .collect()
}

/// The subjects reported `state`, sorted.
pub fn with_state(host: &TestHost, state: &str) -> Vec<String> {
    let mut subjects: Vec<String> = host
        .verdicts()
        .iter()
        .filter(|v| v.state == state)
        .map(|v| v.subject.clone())
        .collect();
    subjects.sort();
    subjects
}

/// Asserts that the subjects reported `state` are `want` (sorted), showing every verdict if
/// not.
pub fn assert_states(host: &TestHost, state: &str, want: &[&str]) {
    assert_eq!(with_state(host, state), want, "{state}:\n{}", dump(host));
}

/// The one verdict on `subject`.
pub fn verdict<'h>(host: &'h TestHost, subject: &str) -> &'h VerdictRecord {
    let found: Vec<&VerdictRecord> = host
        .verdicts()
        .iter()
        .filter(|v| v.subject == subject)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "verdicts on {subject}: {:?}",
        host.verdicts()
    );
    found[0]
}

/// Asserts the reason of the one verdict on each subject of `want`, `(subject, reason)`.
pub fn assert_reasons(host: &TestHost, want: &[(&str, &str)]) {
    for (subject, reason) in want {
        assert_eq!(verdict(host, subject).reason, *reason, "{subject}");
    }
}

/// Asserts that the one verdict on `subject` is `state`, for a reason that `holds`.
pub fn assert_verdict(host: &TestHost, subject: &str, state: &str, holds: impl Fn(&str) -> bool) {
    let v = verdict(host, subject);
    assert_eq!(v.state, state, "{subject}: {}", v.reason);
    assert!(holds(&v.reason), "{subject}: {}", v.reason);
}

/// Asserts that the run logged a message at `level` that `holds`, showing the logs if not.
pub fn assert_logged(host: &TestHost, level: Level, holds: impl Fn(&str) -> bool) {
    let logs = host.logs();
    let found = logs.iter().any(|l| l.level == level && holds(&l.message));
    assert!(found, "no {level:?} message as expected in {logs:?}");
}

/// The last value emitted for `field`.
pub fn emitted(host: &TestHost, field: &str) -> Option<f64> {
    host.last_value(field)
}

/// Every verdict, one per line, for failure messages.
pub fn dump(host: &TestHost) -> String {
    host.verdicts()
        .iter()
        .map(|v| format!("{} {}: {}", v.subject, v.state, v.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a test HTTP server does with each request.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(String),
    /// This status, empty body.
    Status(u16),
    /// Reads the request, answers nothing, holds the connection for 10 s.
    Silent,
    /// 200 and a body that does not end (until the client goes, or 200 MB).
    Endless,
}

/// An HTTP server on 127.0.0.1 answering every request with `reply`, for the rest of the
/// test process (at most 32 connections). Returns its base URL.
pub fn http_server(reply: Reply) -> String {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                match reply {
                    Reply::Body(body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Reply::Status(code) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                    Reply::Silent => std::thread::sleep(std::time::Duration::from_secs(10)),
                    Reply::Endless => {
                        let _ = write!(stream, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                        let chunk = "k v\n".repeat(16 * 1024);
                        for _ in 0..(200 << 20) / chunk.len() {
                            if stream.write_all(chunk.as_bytes()).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    url
}
