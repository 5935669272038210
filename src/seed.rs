//! `civitas seed`: fills a database with plausible synthetic citizens and issues, for
//! demos and load tests.
//!
//! Everything comes from one seeded random generator (`generate`), so a seed always gives
//! the same accounts and issues in the same order; only the clock moves them (issues span
//! the 180 days before the run). Rows go in as multi-row inserts, many per transaction,
//! so a million issues take a minute or two.

mod generate;
mod words;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::accounts::models as accounts_models;
use crate::auth::password;
use crate::categories::models as categories_models;
use crate::config::SeedArgs;
use crate::db::schema::{accounts, issue_events, issues};
use crate::db::{self, DbConnection};
use generate::Generator;

/// The password of every seeded account.
pub const PASSWORD: &str = "civitas-seed-password";
/// The most issues one run creates.
pub const MAX_ISSUES: u64 = 10_000_000;
/// The most accounts one run creates (their ids stay in memory while issues are made).
pub const MAX_ACCOUNTS: u64 = 1_000_000;

/// Rows per INSERT: 1000 issues bind 14,000 parameters, under SQLite's limit of 32,766.
const ROWS_PER_INSERT: u64 = 1_000;
/// Rows per transaction: large enough that commits cost little, small enough that the
/// WAL stays small and a failure loses little.
const ROWS_PER_TRANSACTION: u64 = 50_000;
/// Progress goes to stderr every this many issues.
const PROGRESS_EVERY: u64 = 100_000;

/// What to seed, checked: build it from the command line with `TryFrom<&SeedArgs>`.
#[derive(Debug, Clone)]
pub struct Plan {
    issues: u64,
    accounts: u64,
    seed: u64,
    centre_lat: f64,
    centre_lon: f64,
    spread_km: f64,
}

impl TryFrom<&SeedArgs> for Plan {
    type Error = String;

    fn try_from(args: &SeedArgs) -> Result<Self, String> {
        if args.issues > MAX_ISSUES {
            return Err(format!(
                "--issues: at most {MAX_ISSUES}, got {}",
                args.issues
            ));
        }
        if args.accounts > MAX_ACCOUNTS {
            return Err(format!(
                "--accounts: at most {MAX_ACCOUNTS}, got {}",
                args.accounts
            ));
        }
        if args.issues > 0 && args.accounts == 0 {
            return Err(
                "--accounts: at least 1 when --issues is above 0 (issues need reporters)".into(),
            );
        }
        if !(args.spread_km.is_finite() && (0.1..=200.0).contains(&args.spread_km)) {
            return Err(format!(
                "--spread-km: between 0.1 and 200, got {}",
                args.spread_km
            ));
        }
        if !(args.centre_lat.is_finite() && (-90.0..=90.0).contains(&args.centre_lat)) {
            return Err(format!(
                "--centre-lat: between -90 and 90, got {}",
                args.centre_lat
            ));
        }
        if !(args.centre_lon.is_finite() && (-180.0..=180.0).contains(&args.centre_lon)) {
            return Err(format!(
                "--centre-lon: between -180 and 180, got {}",
                args.centre_lon
            ));
        }
        Ok(Self {
            issues: args.issues,
            accounts: args.accounts,
            seed: args.seed,
            centre_lat: args.centre_lat,
            centre_lon: args.centre_lon,
            spread_km: args.spread_km,
        })
    }
}

/// What a run created.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub issues: u64,
    pub accounts: u64,
    pub elapsed: Duration,
}

/// A seeded issue. Not `IssueRow`: its absent values must bind as NULL rather than
/// DEFAULT, which SQLite cannot batch; the counters and `duplicate_of` keep their
/// column defaults (0 and NULL).
#[derive(Debug, Insertable)]
#[diesel(table_name = issues, treat_none_as_default_value = false)]
struct SeedIssue {
    id: String,
    category_code: String,
    title: String,
    description: String,
    lat: f64,
    lon: f64,
    address: Option<String>,
    answers: String,
    status: &'static str,
    reporter_id: Option<String>,
    anonymous: bool,
    closed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The `reported` event that opens every issue's timeline.
#[derive(Debug, Insertable)]
#[diesel(table_name = issue_events, treat_none_as_default_value = false)]
struct ReportedEvent {
    id: String,
    issue_id: String,
    kind: &'static str,
    actor_id: Option<String>,
    actor_role: Option<&'static str>,
    to_status: Option<&'static str>,
    created_at: NaiveDateTime,
}

/// One multi-row INSERT, on the backend's own connection: diesel's `MultiConnection`
/// cannot batch inserts itself.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConnection::Sqlite(conn) => diesel::insert_into($table).values($rows).execute(conn),
            DbConnection::Postgresql(conn) => {
                diesel::insert_into($table).values($rows).execute(conn)
            }
        }
    };
}

/// Seeds the accounts, then the issues, printing progress to stderr.
pub fn run(conn: &mut DbConnection, plan: &Plan) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let first = generate::email(1);
    if plan.accounts > 0 && accounts_models::find_account_by_email(conn, &first)?.is_some() {
        anyhow::bail!("this database is already seeded ({first} exists): seed a fresh one");
    }
    let categories = categories_models::list_categories(conn, false)?;
    if categories.is_empty() && plan.issues > 0 {
        anyhow::bail!("there are no active categories to report issues in");
    }
    if let DbConnection::Sqlite(_) = conn {
        // A bigger page cache (256 MiB, this connection only) keeps the indexes that grow
        // in random order (position, reporter, category) in memory.
        conn.batch_execute("PRAGMA cache_size = -262144")?;
    }
    let mut generator = Generator::new(plan, categories)?;
    let hash = password::hash_blocking(PASSWORD)?;

    in_batches(conn, "accounts", plan.accounts, started, |conn, rows| {
        let accounts = rows
            .map(|n| generator.account(n, &hash))
            .collect::<anyhow::Result<Vec<_>>>()?;
        insert_rows!(conn, accounts::table, &accounts)?;
        Ok(())
    })?;
    in_batches(conn, "issues", plan.issues, started, |conn, rows| {
        let (issues, events): (Vec<_>, Vec<_>) = rows
            .map(|n| generator.issue(n))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        insert_rows!(conn, issues::table, &issues)?;
        insert_rows!(conn, issue_events::table, &events)?;
        Ok(())
    })?;
    // Fresh statistics, so the planner knows the tables are no longer small.
    conn.batch_execute("ANALYZE")?;
    if let DbConnection::Sqlite(_) = conn {
        // Without the per-value samples of `sqlite_stat4` (kept: the per-index counts of
        // `sqlite_stat1`). With them, SQLite re-plans every statement whose plan could
        // depend on a bound value at each execution, which costs more than any plan it
        // finds: a quarter of the CPU of an issue read. `ANALYZE sqlite_schema` reloads.
        conn.batch_execute("DELETE FROM sqlite_stat4")?;
        conn.batch_execute("ANALYZE sqlite_schema")?;
    }
    Ok(Seeded {
        issues: plan.issues,
        accounts: plan.accounts,
        elapsed: started.elapsed(),
    })
}

/// Calls `insert` with the row numbers of each INSERT (`ROWS_PER_INSERT` at a time),
/// `ROWS_PER_TRANSACTION` rows to a transaction, and reports progress on stderr.
fn in_batches(
    conn: &mut DbConnection,
    what: &str,
    total: u64,
    started: Instant,
    mut insert: impl FnMut(&mut DbConnection, Range<u64>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut done = 0;
    while done < total {
        let end = (done + ROWS_PER_TRANSACTION).min(total);
        db::transaction(conn, |conn| -> anyhow::Result<()> {
            let mut start = done;
            while start < end {
                let stop = (start + ROWS_PER_INSERT).min(end);
                insert(conn, start..stop)?;
                start = stop;
            }
            Ok(())
        })?;
        if end / PROGRESS_EVERY > done / PROGRESS_EVERY || (end == total && total > PROGRESS_EVERY)
        {
            eprintln!(
                "{end} of {total} {what} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        done = end;
    }
    Ok(())
}
