//! A tiny HTTP server that records webhook requests, for tests (loopback only).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One received request: lower-cased headers and the body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// Records every POST; answers `status` to each.
pub struct Sink {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<Mutex<u16>>,
}

impl Sink {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1")
    }

    /// Listens on `ip` (a free port): for senders in another network namespace.
    pub fn start_on(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(200));
        let (r, s) = (received.clone(), status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut stream = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers = HashMap::new();
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                            }
                        }
                        let len: usize = headers
                            .get("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let mut body = vec![0; len];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let code = *s.lock().expect("lock");
                        if code == 200 {
                            r.lock().expect("lock").push(Received {
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            });
                        }
                        let reply = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n");
                        if stream.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url,
            received,
            status,
        }
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .map(|r| serde_json::from_str(&r.body).expect("json"))
            .collect()
    }
}
