//! A small asynchronous HTTP/1.1 client for the midnight load ([`super::midnight`]): for each
//! client one keep-alive connection per instance, one request in flight on it, every client a
//! task on one thread.
//!
//! Why not [`super::http`] (ureq, blocking) on a thread per client, as the mixed load does: on
//! the 2-core bench machine the tool shares the cores with `pudo serve` and PostgreSQL, and 64
//! blocking threads spent about half of them (a thread switch on every request and every
//! answer, and ureq's per-request work), so the midnight measured the tool as much as pudo.
//! Here a request is one `write` and the `read`s of its answer, parsed by `httparse` (the
//! parser actix itself uses).

use super::http::Reply;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take, its connection included, before it counts as failed
/// (ureq's global timeout in [`super::http::agent`]).
const TIMEOUT: Duration = Duration::from_secs(30);

/// A request's method.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// GET, without a body.
    Get,
    /// POST with a JSON body.
    Post,
}

/// One client's connections, one per instance (`bases`), opened on first use and reopened
/// after a failure or a `connection: close`.
pub struct Wire {
    hosts: Vec<String>,
    conns: Vec<Option<TcpStream>>,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Wire {
    /// Connections to `bases` (`http://host:port`), none open yet.
    pub fn new(bases: &[String]) -> Result<Self, String> {
        let hosts = bases
            .iter()
            .map(|b| {
                b.strip_prefix("http://")
                    .map(|h| h.trim_end_matches('/').to_owned())
                    .filter(|h| !h.is_empty() && !h.contains('/'))
                    .ok_or_else(|| format!("{b:?} is not an http://host:port base"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conns: hosts.iter().map(|_| None).collect(),
            hosts,
            request: Vec::with_capacity(1024),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// The same instances, with no connection open yet (for another client).
    pub fn fresh(&self) -> Self {
        Self {
            hosts: self.hosts.clone(),
            conns: self.hosts.iter().map(|_| None).collect(),
            request: Vec::with_capacity(1024),
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// How many instances it talks to.
    pub fn instances(&self) -> usize {
        self.hosts.len()
    }

    /// Sends one request to instance `to` and reads its answer; `Err` is a transport failure
    /// (refused, reset, timed out, a malformed answer): the outcome of the request is unknown,
    /// and the connection is dropped.
    pub async fn send(
        &mut self,
        to: usize,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let body = body.map(|b| b.to_string());
        self.request.clear();
        let (verb, length) = match (&method, &body) {
            (Method::Get, _) => ("GET", None),
            (Method::Post, b) => ("POST", Some(b.as_deref().unwrap_or("").len())),
        };
        use std::io::Write as _;
        let _ = write!(
            self.request,
            "{verb} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n",
            self.hosts[to]
        );
        if let Some(n) = length {
            let _ = write!(
                self.request,
                "content-type: application/json\r\ncontent-length: {n}\r\n"
            );
        }
        self.request.extend_from_slice(b"\r\n");
        if let Some(b) = &body {
            self.request.extend_from_slice(b.as_bytes());
        }
        let conn = self.conns[to].take();
        let host = &self.hosts[to];
        let exchange = exchange(conn, host, &self.request, &mut self.buf);
        match tokio::time::timeout(TIMEOUT, exchange).await {
            Ok(Ok((reply, conn))) => {
                self.conns[to] = conn;
                Ok(reply)
            }
            Ok(Err(e)) => Err(format!("{host}: {e}")),
            Err(_) => Err(format!("{host}: no answer within {TIMEOUT:?}")),
        }
    }
}

/// Writes `request` on `conn` (or a new connection to `host`) and reads one answer; gives the
/// connection back unless the server closes it.
async fn exchange(
    conn: Option<TcpStream>,
    host: &str,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(Reply, Option<TcpStream>), String> {
    let mut conn = match conn {
        Some(c) => c,
        None => {
            let c = TcpStream::connect(host)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            c.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
            c
        }
    };
    conn.write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    buf.clear();
    let Head {
        status,
        len: head_len,
        body: length,
        close,
    } = loop {
        read_more(&mut conn, buf).await?;
        if let Some(head) = parse_head(buf)? {
            break head;
        }
        if buf.len() > 64 * 1024 {
            return Err("a response head over 64 KiB".into());
        }
    };
    let end = match length {
        Some(n) => head_len + n,
        None => {
            // No length: the body runs to the end of the connection.
            loop {
                match conn.read_buf(buf).await {
                    Ok(0) => break buf.len(),
                    Ok(_) => {}
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
        }
    };
    while buf.len() < end {
        read_more(&mut conn, buf).await?;
    }
    if buf.len() > end {
        return Err(format!(
            "{} bytes after the answer (no request was pipelined)",
            buf.len() - end
        ));
    }
    let text = String::from_utf8_lossy(&buf[head_len..end]).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    let keep = (!close && length.is_some()).then_some(conn);
    Ok((Reply { status, body, text }, keep))
}

/// Reads what has arrived; the end of the connection is an error (an answer was expected).
async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), String> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    match conn.read_buf(buf).await {
        Ok(0) => Err(format!(
            "connection closed by the server after {} bytes of the answer",
            buf.len()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// What a response head says about reading the rest.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// The head's own length, up to the body.
    len: usize,
    /// The body's length; `None`: to the end of the connection.
    body: Option<usize>,
    /// The server closes the connection after this answer.
    close: bool,
}

/// The head at the start of `buf`, once it has arrived whole.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed response head: {e}")),
    };
    let status = res.code.ok_or("a response without a status")?;
    let mut length = None;
    let mut close = res.version == Some(0);
    for h in res.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("content-length {value:?}"))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("transfer-encoding {value:?} (not read here)"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        length = Some(0);
    }
    Ok(Some(Head {
        status,
        len: head_len,
        body: length,
        close,
    }))
}

#[cfg(test)]
mod tests {
    // `super::` in full: benches include this module without its tests.

    #[test]
    fn a_head_is_read_once_whole() {
        let head = b"HTTP/1.1 201 Created\r\ncontent-length: 11\r\ncontent-type: application/json\r\n\r\n{\"id\":1234}";
        assert_eq!(
            super::parse_head(&head[..20]).expect("a partial head is no error"),
            None
        );
        let parsed = super::parse_head(head).expect("valid").expect("whole");
        assert_eq!(
            (parsed.status, parsed.body, parsed.close),
            (201, Some(11), false)
        );
        assert_eq!(&head[parsed.len..], b"{\"id\":1234}");
    }

    #[test]
    fn chunked_and_close_are_noticed() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(super::parse_head(chunked).is_err());
        let close =
            b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            super::parse_head(close)
                .expect("valid")
                .map(|h| (h.status, h.body, h.close)),
            Some((503, Some(0), true))
        );
    }
}
