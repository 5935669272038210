//! The table, the JSON file, and the targets of issue 9 as pass/fail lines.

use serde::Serialize;
use std::path::Path;
use std::time::Duration;

use crate::ceiling::{Argon2Bound, Ceilings};
use crate::load::{Failure, Tally};
use crate::{Backend, Options, scenarios};

/// Server RSS under load must stay below this (SQLite).
const RSS_LIMIT_MB: f64 = 150.0;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub connections: usize,
    /// Operations per second (a journey is one operation of six requests).
    pub rps: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub operations: u64,
    pub requests: u64,
    /// Unexpected non-2xx answers (and requests with no answer), by status.
    pub errors: u64,
    pub errors_by_status: std::collections::BTreeMap<u16, u64>,
    /// Non-2xx answers the scenario expects (`409 already_pledged`).
    pub expected_non_2xx: u64,
    pub error_samples: Vec<Failure>,
    /// "database is locked" lines in the server's log during the scenario.
    pub locked: u64,
    /// Pool check-out timeouts ("database pool exhausted") in the server's log.
    pub pool_timeouts: u64,
    pub peak_rss_mb: Option<f64>,
    /// The server's threads at the end of the scenario (workers, blocking pool, hashers…).
    pub server_threads: Option<u64>,
    pub server_cpu_pct: Option<f64>,
    pub server_cpu_ms_per_request: Option<f64>,
    pub ceiling_rps: Option<f64>,
    pub ratio: Option<f64>,
    /// For ceilings: measured `before` or `after` the civitas scenarios.
    pub note: Option<String>,
    /// What this scenario is compared with.
    pub ceiling: Option<Ceiling>,
}

/// The ceiling a scenario is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ceiling {
    /// One indexed read through diesel + r2d2.
    Read,
    /// One bare insert through diesel + r2d2.
    Insert,
    /// cores ÷ time per argon2 hash.
    Argon2,
    /// The journey's parts one after the other at their ceilings: a login at the argon2
    /// bound, three reads, two inserts.
    Journey,
}

impl Row {
    pub fn from_tally(name: &str, tally: &Tally) -> Self {
        Self {
            scenario: name.to_owned(),
            connections: tally.connections,
            rps: tally.ops_per_s(),
            requests_per_s: tally.requests_per_s(),
            p50_ms: tally.quantile_ms(0.50),
            p90_ms: tally.quantile_ms(0.90),
            p99_ms: tally.quantile_ms(0.99),
            max_ms: tally.histogram.max() as f64 / 1000.0,
            operations: tally.operations,
            requests: tally.requests,
            errors: tally.errors(),
            errors_by_status: tally.failures.clone(),
            expected_non_2xx: tally.expected,
            error_samples: tally.samples.clone(),
            locked: 0,
            pool_timeouts: 0,
            peak_rss_mb: None,
            server_threads: None,
            server_cpu_pct: None,
            server_cpu_ms_per_request: None,
            ceiling_rps: None,
            ratio: None,
            note: None,
            ceiling: None,
        }
    }
}

/// One size on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub backend: &'static str,
    pub issues: u64,
    pub accounts: u64,
    pub seed_seconds: f64,
    /// The database connections of the server and of the ceiling's pool.
    pub pool_size: u32,
    /// `--after-seed-sql`, when given: the figures are of a changed schema.
    pub after_seed_sql: Option<String>,
    pub radius_m: f64,
    pub near_mean_items: f64,
    pub ceilings: Ceilings,
    /// The argon2 bound, measured again just before the login scenario.
    pub argon2: Option<Argon2Bound>,
    pub rss_after_start_mb: Option<f64>,
    pub rss_after_fixtures_mb: Option<f64>,
    pub rows: Vec<Row>,
    /// The server's last log lines (other than per-request lines), for post-mortems.
    pub server_log_tail: Vec<String>,
}

impl SizeReport {
    pub fn new(
        backend: Backend,
        issues: u64,
        accounts: u64,
        seeded: Duration,
        pool_size: u32,
    ) -> Self {
        Self {
            backend: backend.name(),
            issues,
            accounts,
            seed_seconds: seeded.as_secs_f64(),
            pool_size,
            after_seed_sql: None,
            radius_m: 0.0,
            near_mean_items: 0.0,
            ceilings: Ceilings::default(),
            argon2: None,
            rss_after_start_mb: None,
            rss_after_fixtures_mb: None,
            rows: Vec::new(),
            server_log_tail: Vec::new(),
        }
    }

    /// Adds a row, compared with the ceilings measured so far, and prints it.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
        self.apply_ceilings();
        if let Some(row) = self.rows.last() {
            print_row(row);
        }
    }

    /// The rate a ceiling allows (mean of the measurements so far).
    pub fn ceiling_rps(&self, ceiling: Ceiling) -> Option<f64> {
        let argon2 = self.argon2.as_ref().map(|a| a.bound_per_s);
        match ceiling {
            Ceiling::Read => self.ceilings.read_rps(),
            Ceiling::Insert => self.ceilings.insert_rps(),
            Ceiling::Argon2 => argon2,
            Ceiling::Journey => {
                let (login, read, insert) = (
                    argon2?,
                    self.ceilings.read_rps()?,
                    self.ceilings.insert_rps()?,
                );
                Some(1.0 / (1.0 / login + 3.0 / read + 2.0 / insert))
            }
        }
    }

    /// Fills in every row's ceiling and ratio from the ceilings measured so far.
    pub fn apply_ceilings(&mut self) {
        let rates: Vec<Option<f64>> = self
            .rows
            .iter()
            .map(|row| row.ceiling.and_then(|c| self.ceiling_rps(c)))
            .collect();
        for (row, rate) in self.rows.iter_mut().zip(rates) {
            row.ceiling_rps = rate;
            row.ratio = rate.map(|c| row.rps / c.max(1e-9));
        }
    }

    pub fn storm_p99s(&self) -> Option<(f64, f64)> {
        let alone = self.row(scenarios::STORM_ALONE)?.p99_ms;
        let storm = self.row(scenarios::STORM_NEAR)?.p99_ms;
        Some((alone, storm))
    }

    pub fn row(&self, scenario: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario == scenario)
    }

    fn is_sqlite(&self) -> bool {
        self.backend == Backend::Sqlite.name()
    }

    fn label(&self) -> String {
        format!("{} issues, {}", self.issues, self.backend)
    }
}

/// The machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub load_average_at_start: String,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let load = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            cpu,
            cores: civitas::config::cores(),
            memory_gib: memory_kb / 1024.0 / 1024.0,
            kernel,
            load_average_at_start: load,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} × {}, {:.0} GiB, Linux {}, load average {}",
            self.cores, self.cpu, self.memory_gib, self.kernel, self.load_average_at_start
        )
    }
}

/// A target of issue 9 and how this run did.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    /// `true` pass, `false` fail, `null` not measured in this run.
    pub pass: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub duration_s: u64,
    pub warmup_s: u64,
    pub connections: usize,
    /// `--pool-size`; `None`: each size ran the server's default (see the size's own).
    pub pool_size: Option<u32>,
    pub citizens_signed_in: usize,
    pub server_workers: usize,
    pub load_generator_threads: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub argon2: Argon2Bound,
    pub sizes: Vec<SizeReport>,
    pub targets: Vec<Target>,
}

impl Report {
    pub fn new(machine: Machine, argon2: Argon2Bound, options: &Options) -> Self {
        Self {
            settings: Settings {
                duration_s: options.duration,
                warmup_s: options.warmup,
                connections: options.connections,
                pool_size: options.pool_size,
                citizens_signed_in: options.citizens,
                server_workers: machine.cores,
                load_generator_threads: 2,
            },
            machine,
            argon2,
            sizes: Vec::new(),
            targets: Vec::new(),
        }
    }

    pub fn unexpected_responses(&self) -> u64 {
        self.sizes
            .iter()
            .flat_map(|s| s.rows.iter())
            .map(|r| r.errors)
            .sum()
    }

    pub fn write(&mut self, path: &Path) -> anyhow::Result<()> {
        self.targets = self.evaluate();
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }

    /// The targets of issue 9, for every size and backend this run covered.
    fn evaluate(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let check = |name: String, pass: Option<bool>, detail: String| Target {
            target: name,
            pass,
            detail,
        };
        let ratio_target = |size: &SizeReport, scenario: &str, floor: f64, ceiling: &str| {
            let row = size.row(scenario);
            let ratio = row.and_then(|r| r.ratio);
            check(
                format!(
                    "{scenario} ≥ {:.0}% of the {ceiling} ceiling ({})",
                    floor * 100.0,
                    size.label()
                ),
                ratio.map(|r| r >= floor),
                match (row, ratio) {
                    (Some(row), Some(ratio)) => format!(
                        "{:.0} rps vs {:.0}: {:.0}%",
                        row.rps,
                        row.ceiling_rps.unwrap_or(0.0),
                        ratio * 100.0
                    ),
                    _ => "not measured".into(),
                },
            )
        };
        for size in &self.sizes {
            targets.push(ratio_target(size, scenarios::NEAR, 0.5, "one-read"));
            targets.push(ratio_target(size, scenarios::DETAIL, 0.5, "one-read"));
            targets.push(ratio_target(size, scenarios::CREATE, 0.4, "one-insert"));
            targets.push(ratio_target(size, scenarios::SUPPORT, 0.4, "one-insert"));
            targets.push(ratio_target(size, scenarios::LOGIN, 0.8, "argon2 bound"));
            let storm = size.storm_p99s();
            targets.push(check(
                format!(
                    "near p99 during a login storm ≤ 2× alone ({})",
                    size.label()
                ),
                storm.map(|(alone, storm)| storm <= 2.0 * alone),
                storm.map_or("not measured".into(), |(alone, storm)| {
                    format!(
                        "{storm:.1} ms vs {alone:.1} ms alone: {:.2}×",
                        storm / alone.max(1e-9)
                    )
                }),
            ));
            if size.is_sqlite() {
                let peak = size
                    .rows
                    .iter()
                    .filter_map(|r| r.peak_rss_mb)
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                targets.push(check(
                    format!(
                        "server RSS under load < {RSS_LIMIT_MB:.0} MB ({})",
                        size.label()
                    ),
                    peak.map(|p| p < RSS_LIMIT_MB),
                    peak.map_or("not measured".into(), |p| format!("peak {p:.1} MB")),
                ));
            }
            let (mut locked, mut pool, mut server_errors) = (0, 0, 0);
            for row in &size.rows {
                locked += row.locked;
                pool += row.pool_timeouts;
                server_errors += row
                    .errors_by_status
                    .iter()
                    .filter(|(status, _)| matches!(status, 500 | 503))
                    .map(|(_, n)| n)
                    .sum::<u64>();
            }
            targets.push(check(
                format!(
                    "zero \"database is locked\" / pool-timeout errors at {} connections ({})",
                    self.settings.connections,
                    size.label()
                ),
                (self.settings.connections >= 64).then_some(locked + pool + server_errors == 0),
                format!("{locked} locked, {pool} pool timeouts, {server_errors} 500/503 answers"),
            ));
        }
        let mut by_backend: Vec<&'static str> = self.sizes.iter().map(|s| s.backend).collect();
        by_backend.dedup();
        for backend in by_backend {
            let p50 = |issues: u64| {
                self.sizes
                    .iter()
                    .find(|s| s.backend == backend && s.issues == issues)
                    .and_then(|s| s.row(scenarios::NEAR))
                    .map(|r| r.p50_ms)
            };
            let (small, large) = (p50(10_000), p50(1_000_000));
            targets.push(check(
                format!("near p50 at 1,000,000 issues ≤ 1.5× at 10,000 ({backend})"),
                small.zip(large).map(|(s, l)| l <= 1.5 * s),
                small
                    .zip(large)
                    .map_or("needs --issues 10000,1000000".into(), |(s, l)| {
                        format!("{l:.2} ms vs {s:.2} ms: {:.2}×", l / s.max(1e-9))
                    }),
            ));
        }
        targets
    }

    pub fn print_targets(&mut self) {
        self.targets = self.evaluate();
        eprintln!("\n== targets (issue 9)");
        for target in &self.targets {
            let verdict = match target.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "----",
            };
            eprintln!("{verdict}  {}: {}", target.target, target.detail);
        }
        let failures: Vec<&Row> = self
            .sizes
            .iter()
            .flat_map(|s| s.rows.iter())
            .filter(|r| r.errors > 0)
            .collect();
        for row in failures {
            eprintln!(
                "\n!! {}: {} unexpected non-2xx {:?}; first ones:",
                row.scenario, row.errors, row.errors_by_status
            );
            for sample in &row.error_samples {
                eprintln!("   {} {} → {}", sample.request, sample.status, sample.body);
            }
        }
    }
}

pub fn print_header() {
    eprintln!(
        "   {:<28} {:>5} {:>9} {:>8} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7}",
        "scenario",
        "conns",
        "rps",
        "p50 ms",
        "p99 ms",
        "errors",
        "RSS MB",
        "ratio",
        "srv cpu",
        "threads"
    );
}

pub fn print_row(row: &Row) {
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
    let name = match &row.note {
        Some(note) => format!("{} ({note})", row.scenario),
        None => row.scenario.clone(),
    };
    eprintln!(
        "   {:<28} {:>5} {:>9.1} {:>8.2} {:>8.2} {:>7} {:>8} {:>7} {:>7} {:>7}",
        name,
        row.connections,
        row.rps,
        row.p50_ms,
        row.p99_ms,
        row.errors,
        opt(row.peak_rss_mb, 1),
        row.ratio
            .map_or("-".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        row.server_cpu_pct
            .map_or("-".to_owned(), |c| format!("{c:.0}%")),
        row.server_threads.map_or("-".to_owned(), |t| t.to_string()),
    );
}

/// The table of one size, in the issue's order, with the ceilings first.
pub fn print_size(size: &SizeReport) {
    eprintln!(
        "\n-- {} issues on {} (seeded in {:.1} s; pool {}; near radius {:.0} m, {:.1} results)",
        size.issues,
        size.backend,
        size.seed_seconds,
        size.pool_size,
        size.radius_m,
        size.near_mean_items
    );
    print_header();
    for row in &size.ceilings.before {
        print_row(row);
    }
    for row in &size.rows {
        print_row(row);
    }
    for row in &size.ceilings.after {
        print_row(row);
    }
    let ceiling = |c| {
        size.ceiling_rps(c)
            .map_or("-".to_owned(), |r| format!("{r:.0}"))
    };
    eprintln!(
        "   ceilings (means of before and after): small JSON {} rps, 1 read {} rps, 1 insert {} rps, \
         argon2 bound {} logins/s, journey {} journeys/s",
        size.ceilings
            .json_rps()
            .map_or("-".to_owned(), |r| format!("{r:.0}")),
        ceiling(Ceiling::Read),
        ceiling(Ceiling::Insert),
        ceiling(Ceiling::Argon2),
        ceiling(Ceiling::Journey)
    );
    if let Some(expected) = size.row(scenarios::PLEDGE).map(|r| r.expected_non_2xx) {
        if expected > 0 {
            eprintln!("   (pledge: {expected} expected 409 already_pledged once pairs ran out)");
        }
    }
}
