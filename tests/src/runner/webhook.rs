//! [`WebhookServer`]: a tiny HTTP server on 127.0.0.1 standing in for an event output. It
//! answers every request `200 OK` and keeps what it received.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::ports::bind_any;
use crate::wait::wait_until;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target (`/hook`).
    pub path: String,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (as lossy UTF-8).
    pub body: String,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Received = Arc<Mutex<Vec<HttpRequest>>>;

/// A running server (see [`WebhookServer::start`]); its thread stops when it is dropped.
#[derive(Debug)]
pub struct WebhookServer {
    port: u16,
    received: Received,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookServer {
    /// Binds a free port of 127.0.0.1 and serves it from a thread: one request per connection,
    /// each answered `200 OK` with an empty body.
    pub fn start() -> Result<Self> {
        let (listener, port) = bind_any("the webhook server")?;
        listener
            .set_nonblocking(true)
            .context("making the webhook listener non-blocking")?;
        let received: Received = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || serve(&listener, &received, &stop))
        };
        Ok(Self {
            port,
            received,
            stop,
            thread: Some(thread),
        })
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until at least `n` requests arrived (at most `timeout`) and returns them all.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Result<Vec<HttpRequest>> {
        wait_until(&format!("{n} request(s) to the webhook"), timeout, || {
            let got = self.requests();
            Ok((got.len() >= n).then_some(got))
        })
        .with_context(|| format!("received: {:?}", self.requests()))
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, received: &Received, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Kept before answering: once the runner sees the 200, the request is here.
                if let Ok((request, mut stream)) = read_request(stream) {
                    received
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(request);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    let _ = stream.flush();
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Reads one request (head and `Content-Length` body); returns it and the stream to answer on.
fn read_request(stream: TcpStream) -> Result<(HttpRequest, TcpStream)> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts
            .next()
            .ok_or_else(|| anyhow!("empty request"))?
            .to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = HttpRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    Ok((request, stream))
}
