//! The system under test: a fresh database per size, `civitas seed`, and a release
//! `civitas serve` child process with its log, memory and CPU readings.

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Backend, Options};

/// The release binary cargo built for this bench target.
const CIVITAS: &str = env!("CARGO_BIN_EXE_civitas");

/// A fresh database and data directory; both go away with it.
pub struct Database {
    pub backend: Backend,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    /// The admin URL and the database's name, to drop it afterwards.
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn create(options: &Options, backend: Backend, issues: u64) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix("civitas-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        match backend {
            Backend::Sqlite => {
                let path = data_dir.path().join("civitas.db");
                Ok(Self {
                    backend,
                    url: format!("sqlite://{}", path.display()),
                    data_dir,
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let admin = options
                    .postgres
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("no --postgres URL"))?;
                let name = format!("civitas_bench_{}_{issues}", std::process::id());
                let mut conn = PgConnection::establish(&admin)
                    .with_context(|| "cannot connect to the --postgres admin URL")?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
                conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let mut url = url::Url::parse(&admin).context("--postgres: not a URL")?;
                url.set_path(&format!("/{name}"));
                Ok(Self {
                    backend,
                    url: url.to_string(),
                    data_dir,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database (the data directory goes when `self` does).
    pub fn drop_now(self) {
        if let Some((admin, name)) = &self.postgres {
            let dropped = PgConnection::establish(admin)
                .map_err(anyhow::Error::from)
                .and_then(|mut conn| {
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .map_err(anyhow::Error::from)
                });
            if let Err(error) = dropped {
                eprintln!("   warning: could not drop database {name}: {error:#}");
            }
        }
    }

    /// A `civitas` command with this database and data directory.
    fn command(&self) -> Command {
        let mut command = Command::new(CIVITAS);
        command
            .env("DATABASE_URL", &self.url)
            .env("CIVITAS_DATA_DIR", self.data_dir.path())
            .env("CIVITAS_LOG_FORMAT", "text")
            .env("NO_COLOR", "1");
        command
    }

    pub fn path(&self) -> &Path {
        self.data_dir.path()
    }
}

/// Runs `civitas seed` and answers how long it took (wall clock, process included).
pub fn seed(
    database: &Database,
    issues: u64,
    accounts: u64,
    seed: u64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = database
        .command()
        .args(["seed", "--issues", &issues.to_string()])
        .args(["--accounts", &accounts.to_string()])
        .args(["--seed", &seed.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run civitas seed")?;
    if !output.status.success() {
        anyhow::bail!("civitas seed failed ({})", output.status);
    }
    Ok(started.elapsed())
}

/// A running `civitas serve`.
pub struct Server {
    child: Child,
    pub base: String,
    pub pid: u32,
    log: PathBuf,
}

impl Server {
    pub async fn start(database: &Database, pool_size: u32) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = database.path().join("serve.log");
        let out = File::create(&log).context("cannot create the server log")?;
        let err = out.try_clone()?;
        let child = database
            .command()
            .arg("serve")
            .env("CIVITAS_BIND", format!("127.0.0.1:{port}"))
            .env("CIVITAS_DB_POOL_SIZE", pool_size.to_string())
            // The benchmark measures throughput, not the limits that protect it.
            .env("CIVITAS_RATE_LIMITS", "off")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("cannot start civitas serve")?;
        let pid = child.id();
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            pid,
            log,
        };
        if let Err(error) = server.wait_ready().await {
            let tail = server.log_tail(20).join("\n");
            server.stop().await;
            return Err(error.context(format!("civitas serve did not get ready:\n{tail}")));
        }
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/health/ready", self.base);
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("it exited ({status})");
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("not ready after 120 s")
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Starts `perf record` on the server for the measured span of a scenario (after its
    /// warm-up), into `dir/<scenario>.data`.
    pub fn profile(
        &self,
        dir: &Path,
        scenario: &str,
        warmup: Duration,
        measured: Duration,
    ) -> anyhow::Result<Child> {
        std::fs::create_dir_all(dir)?;
        let file: String = scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let script = format!(
            "sleep {}; exec perf record -q -F 199 --call-graph dwarf,16384 -p {} -o {}/{file}.data -- sleep {}",
            warmup.as_secs_f64(),
            self.pid,
            dir.display(),
            measured.as_secs_f64()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start perf")
    }

    /// Resets the peak RSS (`VmHWM`) to the current RSS: `clear_refs` with 5.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// The process's `VmHWM` and `VmRSS`, in kB.
    pub fn memory_kb(&self) -> Option<(u64, u64)> {
        memory_kb(self.pid)
    }

    /// How many threads the server runs now.
    pub fn threads(&self) -> Option<u64> {
        status_field(self.pid, "Threads:")
    }

    /// CPU time the server used so far (user + system).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        // Linux reports in clock ticks of 1/100 s (USER_HZ) on every mainstream build.
        Some(Duration::from_millis((utime + stime) * 10))
    }

    /// How long the log is now, to count what a scenario adds to it.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// Log lines since byte `from` that contain `needle`.
    pub fn log_count_since(&self, from: u64, needle: &str) -> u64 {
        let Ok(text) = std::fs::read(&self.log) else {
            return 0;
        };
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(text.len());
        String::from_utf8_lossy(&text[start..])
            .lines()
            .filter(|line| line.contains(needle))
            .count() as u64
    }

    /// The last `n` lines of the server's log that are not "request served" lines.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|line| !line.contains("request served"))
            .map(str::to_owned)
            .collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` and `VmRSS` of a process, in kB.
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    Some((status_field(pid, "VmHWM:")?, status_field(pid, "VmRSS:")?))
}

/// A number from `/proc/<pid>/status`.
fn status_field(pid: u32, name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|line| line.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
