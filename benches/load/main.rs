//! The load benchmark: seeds a fresh database per size, measures this machine's ceiling
//! (a bare actix-web handler, one indexed read and one insert through diesel + r2d2 on
//! the same database, and the argon2 bound), then drives a release `civitas serve` over
//! HTTP/1.1 keep-alive from a closed-loop load generator and reports every scenario as a
//! ratio to its ceiling.
//!
//! `cargo bench --bench load -- --help` lists the options; the README's "Performance"
//! section explains the figures.

mod ceiling;
mod civitas;
mod fixtures;
mod load;
mod report;
mod scenarios;

use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;

use report::{Report, SizeReport};

/// Options of the benchmark.
#[derive(Debug, Clone, Parser)]
#[command(name = "load", about = "Civitas load benchmark")]
pub struct Options {
    /// Seeded issue counts to run, comma-separated (e.g. 10000,1000000).
    #[arg(long, value_delimiter = ',', default_value = "10000")]
    pub issues: Vec<u64>,
    /// Seeded citizen accounts per size.
    #[arg(long, default_value_t = 10_000)]
    pub accounts: u64,
    /// An admin URL of a PostgreSQL server (`postgres://user@host:port/postgres`): each
    /// size also runs on a fresh database created (and dropped) through it.
    #[arg(long)]
    pub postgres: Option<String>,
    /// With --postgres, skip the SQLite runs.
    #[arg(long)]
    pub postgres_only: bool,
    /// Measured seconds per scenario (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Warm-up seconds per scenario (not measured).
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Database connections of the server (CIVITAS_DB_POOL_SIZE) and of the ceiling's
    /// pool; the default is the server's own for the backend.
    #[arg(long)]
    pub pool_size: Option<u32>,
    /// Citizens logged in before the scenarios (their tokens drive the authenticated ones).
    #[arg(long, default_value_t = 256)]
    pub citizens: usize,
    /// Only these scenarios (comma-separated names as printed); default: all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results.json")]
    pub out: std::path::PathBuf,
    /// Record a `perf` profile of the server per scenario into this directory
    /// (`perf report -i DIR/<scenario>.data`); such runs are for profiles, not figures.
    #[arg(long)]
    pub perf: Option<std::path::PathBuf>,
    /// SQL to run on each seeded database before the servers start: for experiments
    /// with the schema (an index, `DELETE FROM sqlite_stat4`) without changing civitas.
    #[arg(long)]
    pub after_seed_sql: Option<String>,
    /// The random seed of `civitas seed`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `cargo bench` passes this to every bench target.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Options {
    pub fn measured(&self) -> Duration {
        Duration::from_secs(self.duration)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup)
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// Which database a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    if options.issues.is_empty() || options.connections == 0 || options.duration == 0 {
        eprintln!("load: give at least one size, one connection and one second");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(report) if report.unexpected_responses() == 0 => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "\nload: FAILED: {} unexpected non-2xx responses (see the samples above)",
                report.unexpected_responses()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> anyhow::Result<Report> {
    let mut backends = Vec::new();
    if !options.postgres_only {
        backends.push(Backend::Sqlite);
    }
    if options.postgres.is_some() {
        backends.push(Backend::Postgres);
    } else if options.postgres_only {
        anyhow::bail!("--postgres-only needs --postgres URL");
    }
    let machine = report::Machine::describe();
    eprintln!("== machine: {}", machine.summary());
    eprintln!("== argon2 bound (same parameters as civitas, measured in-process)");
    let argon2 = ceiling::argon2_bound()?;
    eprintln!(
        "   {:.1} ms per hash on one core, {} cores: {:.1} logins/s (2 threads at once: {:.1}/s)",
        argon2.ms_per_hash, argon2.cores, argon2.bound_per_s, argon2.parallel_per_s
    );
    let mut report = Report::new(machine, argon2, &options);
    for &issues in &options.issues {
        for &backend in &backends {
            eprintln!("\n== {issues} issues on {}", backend.name());
            let size = run_size(&options, backend, issues).await?;
            report::print_size(&size);
            report.sizes.push(size);
            report.write(&options.out)?;
        }
    }
    report.print_targets();
    report.write(&options.out)?;
    eprintln!("\nresults written to {}", options.out.display());
    Ok(report)
}

/// One size on one backend: fresh database, seed, ceilings, civitas, scenarios.
async fn run_size(options: &Options, backend: Backend, issues: u64) -> anyhow::Result<SizeReport> {
    let database = civitas::Database::create(options, backend, issues)?;
    let result = run_on(options, &database, issues).await;
    database.drop_now();
    result
}

async fn run_on(
    options: &Options,
    database: &civitas::Database,
    issues: u64,
) -> anyhow::Result<SizeReport> {
    let seeded = civitas::seed(database, issues, options.accounts, options.seed)?;
    eprintln!("   seeded in {:.1} s", seeded.as_secs_f64());
    let pool_size = ceiling::pool_size(options, database)?;
    let mut size = SizeReport::new(
        database.backend,
        issues,
        options.accounts,
        seeded,
        pool_size,
    );
    if let Some(sql) = &options.after_seed_sql {
        eprintln!("   running --after-seed-sql: {sql}");
        ceiling::execute(database, sql).await?;
        size.after_seed_sql = Some(sql.clone());
    }

    let sample = ceiling::sample_issues(database, pool_size).await?;
    eprintln!("   sampled {} issues for reads", sample.len());
    let ceiling = ceiling::CeilingServer::start(database, pool_size, &sample).await?;
    let outcome = async {
        eprintln!("   measuring the ceiling");
        report::print_header();
        size.ceilings.before = ceiling.measure(options, "before").await?;
        let server = civitas::Server::start(database, pool_size).await?;
        let outcome = run_civitas(options, &server, sample, issues, &mut size).await;
        size.server_log_tail = server.log_tail(20);
        server.stop().await;
        outcome?;
        eprintln!("   measuring the ceiling again");
        size.ceilings.after = ceiling.measure(options, "after").await?;
        size.apply_ceilings();
        anyhow::Ok(())
    }
    .await;
    ceiling.stop().await;
    outcome?;
    Ok(size)
}

/// Fixtures and scenarios against a started civitas.
async fn run_civitas(
    options: &Options,
    server: &civitas::Server,
    sample: Vec<ceiling::SampledIssue>,
    issues: u64,
    size: &mut SizeReport,
) -> anyhow::Result<()> {
    size.rss_after_start_mb = server.memory_kb().map(|(_, rss)| rss as f64 / 1024.0);
    let fixtures = fixtures::prepare(options, server, sample, issues).await?;
    size.rss_after_fixtures_mb = server.memory_kb().map(|(_, rss)| rss as f64 / 1024.0);
    eprintln!(
        "   server RSS: {:.1} MB after start, {:.1} MB after signing in {} citizens",
        size.rss_after_start_mb.unwrap_or(0.0),
        size.rss_after_fixtures_mb.unwrap_or(0.0),
        options.citizens
    );
    eprintln!(
        "   near radius {:.0} m: {:.1} results on average (limit 50)",
        fixtures.radius_m, fixtures.near_mean_items
    );
    size.radius_m = fixtures.radius_m;
    size.near_mean_items = fixtures.near_mean_items;
    scenarios::run_all(options, server, fixtures, size).await
}
