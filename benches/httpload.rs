//! The project's own HTTP load generator for the search endpoint (issue 2,
//! `bench/search/run.sh httpload`).
//!
//! It does what `wrk -t1 -c32 -s bench/search/points.lua` does: N keep-alive connections
//! (default 32) to one `pudo serve`, one request in flight per connection, no pipelining,
//! each request a `GET /v1/pickup-points` for the next of the bench's query points
//! (`points.csv`, `lat,lon` per line, written by `cargo bench --bench postgis`), every
//! connection starting at a different offset of the list and cycling through it.
//!
//! Why it exists: wrk calls the Lua `request()` hook for every request, and on the 2-core
//! bench machine that the load generator shares with the server, the interpreter's CPU is
//! taken from the server (the same server answers 44k req/s with the Lua script cycling the
//! query points, 56k req/s with wrk on one fixed URL). Here every request is formatted once
//! at start, and the per-request work is one `write`, the `read`s until `WouldBlock`, a scan
//! of the response head and one clock reading, on one thread with a mio (epoll,
//! edge-triggered) loop. It reports its own CPU share so that a reader can see how much of
//! the machine the measurement cost.
//!
//! ```text
//! cargo bench --bench httpload -- --url http://127.0.0.1:8089 [--points /tmp/bench/points.csv]
//!     [--connections 32] [--seconds 20] [--warmup 2] [--path-extra 'open_at=…']
//! ```
//!
//! Prints one human line and one JSON line. Exit status: 0 when every answer was a 200,
//! 1 when some were not (after printing the figures), 2 on a usage, connection or protocol
//! error (refused, reset, closed by the server, chunked or malformed response), which stops
//! the run at once.

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Command line help, also printed for `--help`.
const USAGE: &str = "usage: httpload --url http://HOST:PORT [--points FILE] [--connections N] \
                     [--seconds S] [--warmup S] [--path-extra QUERY]";

/// Default query points: where `cargo bench --bench postgis` writes them.
const DEFAULT_POINTS: &str = "/tmp/bench/points.csv";

/// Room for one response head; the body is counted and dropped as it arrives, so this only
/// bounds the head (a few hundred bytes from pudo). Large enough that a 10-result body
/// usually arrives in one `read`.
const BUF_SIZE: usize = 64 * 1024;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("httpload: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(report) => {
            report.print(&options);
            if report.non_200 > 0 {
                eprintln!(
                    "httpload: {} answers were not 200, the first: {}",
                    report.non_200,
                    report.first_non_200.as_deref().unwrap_or("?")
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("httpload: {e}");
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
struct Options {
    /// The URL as given, for the report.
    url: String,
    /// `HOST:PORT` as given, for the `Host` header.
    authority: String,
    /// Where the connections go (the first address `authority` resolves to).
    addr: SocketAddr,
    /// The query points file.
    points: String,
    /// Number of connections, each with one request in flight.
    connections: usize,
    /// Length of the measured window.
    seconds: Duration,
    /// Time before the window whose answers are not counted (connections, caches).
    warmup: Duration,
    /// Extra query parameters appended to every request, without the leading `&`.
    path_extra: String,
}

impl Options {
    /// Parses the flags; `Ok(None)` means there is nothing to run (help, or a bare
    /// `cargo bench`, which runs every bench target without arguments and should not fail
    /// because this one needs a server).
    fn parse(args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let mut url = None;
        let mut points = DEFAULT_POINTS.to_owned();
        let mut connections = 32usize;
        let mut seconds = 20.0f64;
        let mut warmup = 2.0f64;
        let mut path_extra = String::new();
        let mut any = false;
        let mut args = args;
        while let Some(flag) = args.next() {
            // `cargo bench` appends `--bench` to the arguments of every bench target.
            if flag == "--bench" {
                continue;
            }
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                return Ok(None);
            }
            any = true;
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--url" => url = Some(value()?),
                "--points" => points = value()?,
                "--connections" => {
                    connections = value()?
                        .parse()
                        .map_err(|_| "--connections must be a whole number".to_owned())?
                }
                "--seconds" => seconds = seconds_flag(&flag, &value()?)?,
                "--warmup" => warmup = seconds_flag(&flag, &value()?)?,
                "--path-extra" => path_extra = value()?,
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        if !any {
            eprintln!("httpload: no --url given, nothing to measure ({USAGE})");
            return Ok(None);
        }
        let url = url.ok_or("--url is required")?;
        if connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if seconds <= 0.0 {
            return Err("--seconds must be more than 0".into());
        }
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {url:?}: only http://HOST:PORT is supported"))?
            .trim_end_matches('/')
            .to_owned();
        if authority.is_empty() || authority.contains('/') {
            return Err(format!(
                "--url {url:?}: give only http://HOST:PORT, the path is fixed"
            ));
        }
        // `host` alone means port 80; `[::1]` alone is an IPv6 host without a port.
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("--url {url:?}: cannot resolve {with_port}: {e}"))?
            .next()
            .ok_or_else(|| format!("--url {url:?}: {with_port} resolves to no address"))?;
        let path_extra = path_extra.trim_start_matches('&').to_owned();
        // The text goes verbatim into the request line: a space or a line break would make a
        // different request than the one measured.
        if path_extra.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("--path-extra must not contain spaces or control characters".into());
        }
        Ok(Some(Options {
            url,
            authority,
            addr,
            points,
            connections,
            seconds: Duration::from_secs_f64(seconds),
            warmup: Duration::from_secs_f64(warmup),
            path_extra,
        }))
    }
}

/// Parses a duration flag given in (possibly fractional) seconds.
fn seconds_flag(flag: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if (0.0..1e9).contains(&s) => Ok(s),
        _ => Err(format!("{flag} must be a number of seconds, not {value:?}")),
    }
}

/// Formats one request per query point, ready to write as they are.
fn requests(options: &Options) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read_to_string(&options.points)
        .map_err(|e| format!("cannot read {}: {e}", options.points))?;
    let extra = if options.path_extra.is_empty() {
        String::new()
    } else {
        format!("&{}", options.path_extra)
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = || {
            format!(
                "{} line {}: expected lat,lon, got {line:?}",
                options.points,
                n + 1
            )
        };
        let (lat, lon) = line.split_once(',').ok_or_else(bad)?;
        let (lat, lon) = (lat.trim(), lon.trim());
        // The coordinates are sent as written (as the Lua script does), after checking that
        // they are numbers, so both tools ask the very same questions.
        for c in [lat, lon] {
            if !c.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(bad());
            }
        }
        // No `Connection` header: HTTP/1.1 connections persist by default, and these are the
        // bytes `wrk.format` produces, so the server parses the same request from both tools.
        out.push(
            format!(
                "GET /v1/pickup-points?lat={lat}&lon={lon}&limit=10{extra} HTTP/1.1\r\n\
                 Host: {}\r\n\r\n",
                options.authority
            )
            .into_bytes(),
        );
    }
    if out.is_empty() {
        return Err(format!("{} has no query point", options.points));
    }
    Ok(out)
}

/// Where the parser is in the answer to the request in flight.
#[derive(Clone, Copy)]
enum Phase {
    /// Waiting for the end of the head (`\r\n\r\n`).
    Head,
    /// The head is parsed; `left` body bytes are still to come.
    Body {
        /// Status code of the answer.
        status: u16,
        /// Body bytes not received yet.
        left: usize,
    },
}

/// One keep-alive connection and its request in flight.
struct Conn {
    /// The socket, registered for readable and writable events (edge-triggered).
    stream: TcpStream,
    /// Whether the non-blocking connect has completed.
    connected: bool,
    /// Index of the next request to send.
    next: usize,
    /// Index of the request in flight, for error messages.
    in_flight: usize,
    /// Bytes of the request in flight written so far.
    written: usize,
    /// When the first byte of the request in flight was written.
    sent_at: Instant,
    /// Received bytes not consumed yet (`buf[..filled]`).
    buf: Box<[u8]>,
    /// How much of `buf` holds data.
    filled: usize,
    /// Parser state of the answer in flight.
    phase: Phase,
    /// Bytes of the answer in flight received so far (head and body).
    response_bytes: usize,
    /// Answers completed on this connection, for error messages.
    answered: u64,
}

/// The counters of the run.
struct Stats {
    /// Start of the measured window.
    window_start: Instant,
    /// End of the measured window: no request is started after it.
    end: Instant,
    /// Answers completed inside the window.
    requests: u64,
    /// Bytes of the answers completed inside the window.
    bytes: u64,
    /// Latency of each answer completed inside the window, in microseconds.
    latencies_us: Vec<u32>,
    /// Non-200 answers over the whole run, warm-up included: a failure is a failure.
    non_200: u64,
    /// The first non-200 answer, for the message.
    first_non_200: Option<String>,
}

impl Stats {
    /// Counts one complete answer.
    fn record(&mut self, status: u16, latency: Duration, done: Instant, bytes: usize, req: &[u8]) {
        if status != 200 {
            self.non_200 += 1;
            if self.first_non_200.is_none() {
                self.first_non_200 = Some(format!("{status} for {}", request_line(req)));
            }
        }
        if done >= self.window_start && done < self.end {
            self.requests += 1;
            self.bytes += bytes as u64;
            self.latencies_us
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        }
    }
}

/// The request line of a formatted request (`GET /v1/…`), for messages.
fn request_line(req: &[u8]) -> String {
    let line = req.split(|&b| b == b'\r').next().unwrap_or(req);
    String::from_utf8_lossy(line).into_owned()
}

impl Conn {
    /// Starts a non-blocking connect; `offset` is the first query point it asks for.
    fn open(addr: SocketAddr, offset: usize) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        Ok(Conn {
            stream,
            connected: false,
            next: offset,
            in_flight: offset,
            written: 0,
            sent_at: Instant::now(),
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            filled: 0,
            phase: Phase::Head,
            response_bytes: 0,
            answered: 0,
        })
    }

    /// Handles one readiness event of this connection.
    fn on_event(
        &mut self,
        event: &Event,
        reqs: &[Vec<u8>],
        stats: &mut Stats,
    ) -> Result<(), String> {
        if !self.connected {
            if !self.finish_connect()? {
                return Ok(());
            }
            self.connected = true;
            // Without it a request written while the previous segment is unacknowledged
            // could wait for the delayed ACK; wrk sets it too.
            self.stream
                .set_nodelay(true)
                .map_err(|e| format!("TCP_NODELAY: {e}"))?;
            self.send_next(reqs, Instant::now())?;
        } else if event.is_writable() && self.written < reqs[self.in_flight].len() {
            self.write_pending(reqs)?;
        }
        // Errors and hang-ups surface through `read`, so they go that way too.
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read_all(reqs, stats)?;
        }
        Ok(())
    }

    /// Whether the non-blocking connect has completed (mio's documented check: a pending
    /// socket error means it failed, `NotConnected` means it is still in progress).
    fn finish_connect(&mut self) -> Result<bool, String> {
        if let Some(e) = self
            .stream
            .take_error()
            .map_err(|e| format!("connect: {e}"))?
        {
            return Err(format!("connect: {e}"));
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(format!("connect: {e}")),
        }
    }

    /// Starts the next request of the cycle.
    fn send_next(&mut self, reqs: &[Vec<u8>], now: Instant) -> Result<(), String> {
        self.in_flight = self.next;
        self.next = (self.next + 1) % reqs.len();
        self.written = 0;
        self.response_bytes = 0;
        self.sent_at = now;
        self.write_pending(reqs)
    }

    /// Writes what is left of the request in flight. A `WouldBlock` leaves the rest for
    /// the next writable event, which edge-triggered epoll reports once there is room again.
    fn write_pending(&mut self, reqs: &[Vec<u8>]) -> Result<(), String> {
        let req = &reqs[self.in_flight];
        while self.written < req.len() {
            match self.stream.write(&req[self.written..]) {
                Ok(0) => return Err("write: the connection accepts no more data".into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        Ok(())
    }

    /// Reads until `WouldBlock`: with edge-triggered readiness, data left in the socket
    /// would produce no further event and the connection would stall.
    fn read_all(&mut self, reqs: &[Vec<u8>], stats: &mut Stats) -> Result<(), String> {
        loop {
            // Only a head can fill the buffer: body bytes are consumed after every read.
            if self.filled == self.buf.len() {
                return Err(format!(
                    "malformed response: no end of head in the first {BUF_SIZE} bytes"
                ));
            }
            match self.stream.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    return Err(if self.filled == 0 && self.response_bytes == 0 {
                        "the server closed the connection".into()
                    } else {
                        "the server closed the connection in the middle of a response".into()
                    })
                }
                Ok(n) => {
                    self.filled += n;
                    self.consume(reqs, stats)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Parses what has arrived of the answer in flight; on its last byte, counts it and
    /// sends the next request.
    fn consume(&mut self, reqs: &[Vec<u8>], stats: &mut Stats) -> Result<(), String> {
        if let Phase::Head = self.phase {
            let Some(head_len) = head_end(&self.buf[..self.filled]) else {
                return Ok(());
            };
            let (status, length) = parse_head(&self.buf[..head_len])?;
            self.drop_front(head_len);
            self.response_bytes += head_len;
            self.phase = Phase::Body {
                status,
                left: length,
            };
        }
        let Phase::Body { status, left } = self.phase else {
            return Ok(());
        };
        let take = left.min(self.filled);
        self.drop_front(take);
        self.response_bytes += take;
        let left = left - take;
        self.phase = Phase::Body { status, left };
        if left > 0 {
            return Ok(());
        }
        // One request in flight: anything beyond this answer was never asked for (or the
        // content-length was wrong), and counting it would corrupt the next answer.
        if self.filled > 0 {
            return Err(format!(
                "malformed response: {} bytes beyond its content-length",
                self.filled
            ));
        }
        let done = Instant::now();
        stats.record(
            status,
            done - self.sent_at,
            done,
            self.response_bytes,
            &reqs[self.in_flight],
        );
        self.answered += 1;
        self.phase = Phase::Head;
        if done < stats.end {
            self.send_next(reqs, done)?;
        }
        Ok(())
    }

    /// Removes the first `n` received bytes.
    fn drop_front(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }
}

/// Length of the response head including its final `\r\n\r\n`, once it has all arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Status code and body length of a response head. Anything this tool cannot delimit
/// exactly (chunked, no content-length, a server closing after the answer) is an error:
/// guessing would count answers that were not complete.
fn parse_head(head: &[u8]) -> Result<(u16, usize), String> {
    let text = std::str::from_utf8(head)
        .map_err(|_| "malformed response: the head is not ASCII text".to_owned())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    let status = match code.parse::<u16>() {
        Ok(s) if version.starts_with("HTTP/1.") && code.len() == 3 => s,
        _ => return Err(format!("malformed status line {status_line:?}")),
    };
    // 1xx answers only follow `Expect: 100-continue` or an upgrade, neither of which is sent.
    if status < 200 {
        return Err(format!("unexpected informational response {status_line:?}"));
    }
    let mut length = None;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed header line {line:?} after {status_line:?}"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<usize>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("malformed content-length {value:?} in {status_line:?}"))?;
            if length.is_some_and(|l| l != n) {
                return Err(format!(
                    "conflicting content-length headers in {status_line:?}"
                ));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "{status_line:?} with transfer-encoding {value:?}: not supported, httpload \
                 expects a content-length"
            ));
        } else if name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
        {
            return Err(format!(
                "{status_line:?} with connection: close; the measurement needs keep-alive"
            ));
        }
    }
    match length {
        Some(n) => Ok((status, n)),
        // These never carry a body, with or without the header.
        None if status == 204 || status == 304 => Ok((status, 0)),
        None => Err(format!(
            "malformed response: {status_line:?} without content-length"
        )),
    }
}

/// The figures of a run.
struct Report {
    /// Answers completed in the measured window.
    requests: u64,
    /// Length of the measured window.
    seconds: f64,
    /// Bytes of those answers, heads included.
    bytes: u64,
    /// Latency percentiles p50, p90, p99 and the maximum, in microseconds.
    latency_us: [u32; 4],
    /// Non-200 answers over the whole run.
    non_200: u64,
    /// The first of them.
    first_non_200: Option<String>,
    /// Cores this process kept busy over the window (CPU seconds per second).
    cpu_share: f64,
}

impl Report {
    /// Prints the human line and the JSON line.
    fn print(&self, options: &Options) {
        let [p50, p90, p99, max] = self.latency_us;
        let rate = self.requests as f64 / self.seconds;
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "httpload {}: {} connections, {:.1} s measured after {:.1} s warm-up: {} requests, \
             {rate:.0} req/s, latency p50 {p50} us, p90 {p90} us, p99 {p99} us, max {max} us, \
             {} non-200, {:.1} MB received; httpload used {:.2} of the {cores} cores",
            options.url,
            options.connections,
            self.seconds,
            options.warmup.as_secs_f64(),
            self.requests,
            self.non_200,
            self.bytes as f64 / 1e6,
            self.cpu_share,
        );
        println!(
            "{}",
            json!({
                "tool": "httpload", "url": options.url, "connections": options.connections,
                "seconds": self.seconds, "warmup_seconds": options.warmup.as_secs_f64(),
                "requests": self.requests, "requests_per_s": rate,
                "latency_us": { "p50": p50, "p90": p90, "p99": p99, "max": max },
                "non_200": self.non_200, "bytes": self.bytes,
                "cpu_share": self.cpu_share,
            })
        );
    }
}

/// Runs the load and gathers the figures.
fn run(options: &Options) -> Result<Report, String> {
    let reqs = requests(options)?;
    let mut poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
    let mut conns = Vec::with_capacity(options.connections);
    for i in 0..options.connections {
        // Evenly spread starting points: the connections do not ask the same question at
        // the same moment, as 32 wrk connections sharing one cycle do not either.
        let offset = i * reqs.len() / options.connections;
        let mut conn = Conn::open(options.addr, offset)
            .map_err(|e| format!("connection {i} to {}: {e}", options.addr))?;
        poll.registry()
            .register(
                &mut conn.stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("epoll: {e}"))?;
        conns.push(conn);
    }
    let mut events = Events::with_capacity(conns.len());
    let start = Instant::now();
    let mut stats = Stats {
        window_start: start + options.warmup,
        end: start + options.warmup + options.seconds,
        requests: 0,
        bytes: 0,
        // Room for a minute at 60k req/s: no reallocation during the window in practice.
        latencies_us: Vec::with_capacity(4 << 20),
        non_200: 0,
        first_non_200: None,
    };
    let mut cpu_start = None;
    loop {
        let now = Instant::now();
        if cpu_start.is_none() && now >= stats.window_start {
            cpu_start = Some((now, cpu_time()?));
        }
        if now >= stats.end {
            break;
        }
        // Wake at the window's edges even if no answer comes (a stalled server).
        let wake = if now < stats.window_start {
            stats.window_start
        } else {
            stats.end
        };
        match poll.poll(&mut events, Some(wake - now)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("epoll: {e}")),
        }
        for event in events.iter() {
            let i = event.token().0;
            let conn = &mut conns[i];
            conn.on_event(event, &reqs, &mut stats).map_err(|e| {
                if conn.connected {
                    format!(
                        "connection {i} to {}: {e} (request in flight: {}; {} answers on \
                         this connection before it)",
                        options.addr,
                        request_line(&reqs[conn.in_flight]),
                        conn.answered
                    )
                } else {
                    format!("connection {i} to {}: {e}", options.addr)
                }
            })?;
        }
    }
    let (t0, c0) = cpu_start.ok_or("the measured window never started")?;
    let cpu = cpu_time()?.saturating_sub(c0);
    let wall = t0.elapsed().as_secs_f64();
    if stats.requests == 0 {
        return Err(format!(
            "no answer completed in the {:.1} s window (connected: {} of {})",
            options.seconds.as_secs_f64(),
            conns.iter().filter(|c| c.connected).count(),
            conns.len()
        ));
    }
    let mut lat = std::mem::take(&mut stats.latencies_us);
    lat.sort_unstable();
    Ok(Report {
        requests: stats.requests,
        seconds: options.seconds.as_secs_f64(),
        bytes: stats.bytes,
        latency_us: [
            percentile(&lat, 0.50),
            percentile(&lat, 0.90),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0),
        ],
        non_200: stats.non_200,
        first_non_200: stats.first_non_200,
        cpu_share: cpu.as_secs_f64() / wall,
    })
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1); 0 for no values.
fn percentile(sorted: &[u32], q: f64) -> u32 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(0)
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`: std has
/// no `getrusage`, and the `libc` crate is not a dependency of the project.
fn cpu_time() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    // Field 2, the command name, is in parentheses and may hold spaces: count from the
    // last ')'. What follows starts at field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(11)
        .zip(field(12))
        .map(|(u, s)| u + s)
        .ok_or("unexpected /proc/self/stat format")?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / ticks_per_second() as f64,
    ))
}

/// The kernel's `USER_HZ`, the unit of `/proc/*/stat` times: the `AT_CLKTCK` entry of the
/// auxiliary vector, which is what `sysconf(_SC_CLK_TCK)` returns; 100 (Linux's value on
/// every common architecture) if it cannot be read.
fn ticks_per_second() -> u64 {
    const AT_CLKTCK: usize = 17;
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |b: &[u8]| b.try_into().ok().map(usize::from_ne_bytes);
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| {
            auxv.chunks_exact(2 * WORD).find_map(|pair| {
                let (key, value) = pair.split_at(WORD);
                (word(key) == Some(AT_CLKTCK))
                    .then(|| word(value))
                    .flatten()
            })
        })
        .filter(|&hz| hz > 0)
        .map_or(100, |hz| hz as u64)
}
