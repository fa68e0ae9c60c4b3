//! A real SMTP server on the loopback for the customer e-mail tests: Python's `aiosmtpd`
//! (tests/mail/smtp_sink.py), installed on first use into `target/mail-venv` from the pinned
//! tests/mail/requirements.txt, so a fresh clone needs only python3 and PyPI. Each message
//! received is read back as JSON (headers decoded, MIME structure, bodies, inline images).
//! A sink that cannot be installed or started fails the test.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running server; stopped (its process killed) when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv with aiosmtpd, made once per test run (and again when the requirements change).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target"));
        let venv = target.join("mail-venv");
        let requirements = repo().join("tests/mail/requirements.txt");
        let stamp = venv.join("requirements.txt");
        let wanted = std::fs::read(&requirements).expect("tests/mail/requirements.txt");
        let python = venv.join("bin/python");
        if python.exists() && std::fs::read(&stamp).ok().as_ref() == Some(&wanted) {
            return python;
        }
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs (the SMTP sink needs it)");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            // Nothing is cached outside the repository.
            .env("PIP_NO_CACHE_DIR", "1")
            .status()
            .expect("pip runs");
        assert!(
            installed.success(),
            "pip install -r tests/mail/requirements.txt"
        );
        std::fs::write(&stamp, wanted).expect("stamp");
        python
    })
}

/// A port nobody listens on now (the kernel's choice, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Listens on `port` (for a test that first finds nobody there).
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(python())
            .arg(repo().join("tests/mail/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sink's first line");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self { port, dir, child }
    }

    /// The URL pudo sends to.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order of arrival.
    pub fn received(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).expect("message")).expect("json"))
            .collect()
    }

    /// The messages once `n` have arrived (an accepted message is written before the server
    /// answers 250, so this waits only for a slow disk).
    pub fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
