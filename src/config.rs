//! Settings and the command line: flags first, then environment variables, then defaults.
//!
//! Everything is parsed and validated once, at start-up; a bad setting stops the process
//! with one line naming it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::Role;

/// Civitas: the backend for citizen-participation apps.
#[derive(Debug, Parser)]
#[command(name = "civitas", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage partner API clients (OAuth 2 client credentials; Open311 API keys).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Fill the database with synthetic citizens and issues, for demos and load tests.
    ///
    /// Creates citizens `seed-1@example.org` … `seed-M@example.org` (email verified, all
    /// with the password `civitas-seed-password`) and N issues around the centre, in a few
    /// neighbourhoods, reported over the last 180 days in the active categories, each with
    /// its `reported` timeline event. The same seed gives the same data. Run it on a fresh
    /// database: it refuses one that is already seeded.
    Seed(SeedArgs),
}

/// The arguments of `civitas seed`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Seed options")]
pub struct SeedArgs {
    /// Issues to create (at most 10,000,000).
    #[arg(long)]
    pub issues: u64,
    /// Citizen accounts to create (at most 1,000,000; at least 1 when there are issues).
    #[arg(long)]
    pub accounts: u64,
    /// The random seed: the same seed gives the same accounts and issues.
    #[arg(long)]
    pub seed: u64,
    /// Latitude of the centre of the area.
    #[arg(long, default_value_t = 51.5072, allow_negative_numbers = true)]
    pub centre_lat: f64,
    /// Longitude of the centre of the area.
    #[arg(long, default_value_t = -0.1276, allow_negative_numbers = true)]
    pub centre_lon: f64,
    /// Radius of the area around the centre, in kilometres (0.1 to 200).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub spread_km: f64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account with a role (bootstrap staff and admins). Its email counts as verified.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, value_enum, default_value_t = Role::Citizen)]
        role: Role,
        /// Display name; defaults to the part of the email before `@`.
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a partner client and print its id and secret. The secret is shown this once
    /// and stored only hashed.
    Create {
        /// The partner organisation's name, shown on what it publishes.
        #[arg(long)]
        name: String,
        /// Scopes to grant: issues:read, issues:write, opportunities:write, pledges:read,
        /// webhooks:manage, open311:submit.
        #[arg(long, num_args = 1.., required = true)]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key. Tokens signed by older keys keep verifying until they expire.
    Rotate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The licence of the open-data exports unless `CIVITAS_OPEN_DATA_LICENCE` says otherwise.
pub const DEFAULT_OPEN_DATA_LICENCE: &str = "Open Government Licence v3.0";

/// Process-wide settings.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        env = "CIVITAS_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// `sqlite://path` (default `sqlite://<data dir>/civitas.db`) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// The URL clients reach this service at (token issuer, links in mail).
    #[arg(long, env = "CIVITAS_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Directory for the SQLite database, uploads and the mail drop.
    #[arg(
        long,
        env = "CIVITAS_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// `smtp://user:pass@host:port` or `smtps://…`; without it, mail is written to `<data dir>/mail/`.
    #[arg(long, env = "CIVITAS_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of Civitas's mail.
    #[arg(
        long,
        env = "CIVITAS_MAIL_FROM",
        default_value = "Civitas <no-reply@civitas.local>",
        global = true
    )]
    pub mail_from: String,

    /// Database connections per node [default: 10 on PostgreSQL; on SQLite, twice the
    /// cores plus one].
    #[arg(long, env = "CIVITAS_DB_POOL_SIZE",
          value_parser = clap::value_parser!(u32).range(1..=500), global = true)]
    pub db_pool_size: Option<u32>,

    /// How long a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long, env = "CIVITAS_DB_POOL_TIMEOUT_MS", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(10..=60_000), global = true)]
    pub db_pool_timeout_ms: u64,

    /// Supporters at which an open issue is escalated to the council automatically.
    #[arg(long, env = "CIVITAS_ESCALATION_THRESHOLD", default_value_t = 25,
          value_parser = clap::value_parser!(i32).range(1..=1_000_000), global = true)]
    pub escalation_threshold: i32,

    /// Flags from distinct citizens at which content is hidden pending a moderator's review.
    #[arg(long, env = "CIVITAS_FLAG_THRESHOLD", default_value_t = 3,
          value_parser = clap::value_parser!(i32).range(1..=1000), global = true)]
    pub flag_threshold: i32,

    /// Where photos are stored: `file:///path` (default: the data directory, under
    /// `photos/`) or `memory://` (tests and demos).
    #[arg(
        long,
        env = "CIVITAS_OBJECT_STORE_URL",
        global = true,
        hide_env_values = true
    )]
    pub object_store_url: Option<String>,

    /// Photos allowed per issue.
    #[arg(long, env = "CIVITAS_MAX_PHOTOS_PER_ISSUE", default_value_t = 10,
          value_parser = clap::value_parser!(i32).range(1..=100), global = true)]
    pub max_photos_per_issue: i32,

    /// The Open311 `jurisdiction_id` of this deployment (e.g. `council.example.gov.uk`).
    /// When set, Open311 calls naming another jurisdiction get 404; when unset, any
    /// `jurisdiction_id` is accepted and ignored.
    #[arg(long, env = "CIVITAS_JURISDICTION_ID", global = true)]
    pub jurisdiction_id: Option<String>,

    /// The council's name, shown as the agency responsible for issues no community group
    /// has adopted (Open311 `agency_responsible`).
    #[arg(
        long,
        env = "CIVITAS_COUNCIL_NAME",
        default_value = "The council",
        global = true
    )]
    pub council_name: String,

    /// How often the event dispatcher looks for new events when idle, in milliseconds.
    #[arg(long, env = "CIVITAS_DISPATCH_INTERVAL_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(10..=60_000), global = true)]
    pub dispatch_interval_ms: u64,

    /// Allow webhook URLs with `http://` (default: https only). For local development.
    #[arg(
        long,
        env = "CIVITAS_WEBHOOK_ALLOW_HTTP",
        default_value_t = false,
        global = true
    )]
    pub webhook_allow_http: bool,

    /// Allow webhook URLs that resolve to loopback, private, link-local or other internal
    /// addresses (default: refused, at registration and at every delivery). For local
    /// development and tests only.
    #[arg(
        long,
        env = "CIVITAS_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        global = true
    )]
    pub webhook_allow_private: bool,

    /// The pauses between webhook delivery attempts, comma-separated (`500ms`, `5s`,
    /// `5m`, `2h`); a delivery fails for good after the last. The default spreads eight
    /// attempts over about a day; each pause gets up to 10% jitter.
    #[arg(
        long,
        env = "CIVITAS_WEBHOOK_RETRY_DELAYS",
        default_value = "5s,5m,30m,2h,5h,10h,10h",
        global = true
    )]
    pub webhook_retry_delays: String,

    /// Push provider: unset logs each push (the default); an `https://` URL relays each
    /// push as JSON to that gateway (FCM, APNs or Web Push bridge of your own).
    #[arg(
        long,
        env = "CIVITAS_PUSH_RELAY_URL",
        global = true,
        hide_env_values = true
    )]
    pub push_relay_url: Option<String>,

    /// Origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    /// `https://app.council.example`; `*` allows any origin. Default: none.
    #[arg(long, env = "CIVITAS_CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,

    /// A bearer token `/metrics` requires; unset, `/metrics` is open (keep it on an
    /// internal network then).
    #[arg(
        long,
        env = "CIVITAS_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// Rate limits, comma-separated `class=N/period` (period `s`, `m`, `h`), or `off`.
    /// Classes: `anonymous` (per IP, any route without a token), `account` (per citizen
    /// or partner client, any route), and the stricter `auth` (register, sign-in,
    /// password reset, token exchanges; per IP), `report` (new issues, Open311 requests),
    /// `comment` and `pledge` (per caller). Unnamed classes keep their defaults.
    #[arg(
        long,
        env = "CIVITAS_RATE_LIMITS",
        default_value = crate::ratelimit::DEFAULT_LIMITS,
        global = true
    )]
    pub rate_limits: String,

    /// Reverse proxies in front of Civitas that append to `X-Forwarded-For` (0: clients
    /// connect directly). The client's address for per-IP limits is then the entry this
    /// many hops from the right; set it only when every request passes those proxies.
    #[arg(long, env = "CIVITAS_TRUSTED_PROXY_HOPS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=10), global = true)]
    pub trusted_proxy_hops: u8,

    /// The licence the open-data exports (`/open-data/issues.csv`, `.geojson`) are
    /// published under, named in each file (1 to 200 characters).
    #[arg(
        long,
        env = "CIVITAS_OPEN_DATA_LICENCE",
        default_value = DEFAULT_OPEN_DATA_LICENCE,
        global = true
    )]
    pub open_data_licence: String,

    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "CIVITAS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// The cores this process may use (1 when the system cannot tell): one async worker and
/// one password hasher each, and the SQLite pool's default follows them.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Where the data lives, parsed from the database URL.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(SecretString),
}

impl DatabaseUrl {
    /// Parses `sqlite://path`, `sqlite:path`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("DATABASE_URL: the sqlite:// URL has no path".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(SecretString::from(url.to_owned())));
        }
        Err("DATABASE_URL: expected sqlite://PATH or postgres://USER@HOST/DB".into())
    }

    /// Connections per node when `CIVITAS_DB_POOL_SIZE` is not set.
    ///
    /// PostgreSQL does the work in its own processes, so ten connections keep a node's
    /// queries in flight. SQLite does it on this process's cores, and each connection
    /// keeps its own page cache, so more connections than the cores can use only cost
    /// memory: twice the cores plus one. On 2 cores, 5 against 10 took 12–17 MB off peak
    /// RSS; throughput moved both ways between runs (README, "Performance").
    pub fn default_pool_size(&self) -> u32 {
        match self {
            Self::Postgres(_) => 10,
            Self::Sqlite(_) => u32::try_from(2 * cores() + 1).unwrap_or(u32::MAX).min(500),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Settings after validation: what the rest of the program uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub db_pool_size: u32,
    pub db_pool_timeout: Duration,
    pub escalation_threshold: i32,
    pub flag_threshold: i32,
    pub object_store_url: Option<SecretString>,
    pub max_photos_per_issue: i32,
    pub jurisdiction_id: Option<String>,
    pub council_name: String,
    pub dispatch_interval: Duration,
    pub webhook_allow_http: bool,
    pub webhook_allow_private: bool,
    pub webhook_retry_delays: Vec<Duration>,
    pub push_relay_url: Option<String>,
    /// Browser origins allowed by CORS; `["*"]` for any.
    pub cors_origins: Vec<String>,
    pub metrics_token: Option<SecretString>,
    pub rate_limits: crate::ratelimit::RateLimits,
    pub trusted_proxy_hops: u8,
    /// The licence named in the open-data exports.
    pub open_data_licence: String,
    pub log_format: LogFormat,
}

impl Settings {
    /// Validates the settings that clap cannot check by itself.
    pub fn validate(self) -> Result<Config, String> {
        let database = match &self.database_url {
            Some(url) if !url.is_empty() => DatabaseUrl::parse(url)?,
            _ => DatabaseUrl::Sqlite(self.data_dir.join("civitas.db")),
        };
        let public_url = match self.public_url.as_deref() {
            Some(url) if !url.is_empty() => {
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.contains(char::is_whitespace)
                {
                    return Err(format!(
                        "CIVITAS_PUBLIC_URL: expected an http:// or https:// URL, got {url:?}"
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            _ => format!("http://{}", self.bind),
        };
        if let Some(smtp) = &self.smtp_url {
            if !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
                return Err("CIVITAS_SMTP_URL: expected smtp://… or smtps://…".into());
            }
        }
        if let Some(id) = &self.jurisdiction_id {
            if id.len() > 200 || id.contains(char::is_whitespace) {
                return Err(format!(
                    "CIVITAS_JURISDICTION_ID: expected a short id without spaces, got {id:?}"
                ));
            }
        }
        let council_name = self.council_name.trim().to_owned();
        if council_name.is_empty() || council_name.chars().count() > 200 {
            return Err("CIVITAS_COUNCIL_NAME: expected 1 to 200 characters".into());
        }
        let webhook_retry_delays = parse_delays(&self.webhook_retry_delays)
            .map_err(|e| format!("CIVITAS_WEBHOOK_RETRY_DELAYS: {e}"))?;
        if let Some(url) = self.push_relay_url.as_deref().filter(|u| !u.is_empty()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err("CIVITAS_PUSH_RELAY_URL: expected an http(s):// URL".into());
            }
        }
        let cors_origins =
            parse_origins(&self.cors_origins).map_err(|e| format!("CIVITAS_CORS_ORIGINS: {e}"))?;
        let rate_limits = crate::ratelimit::RateLimits::parse(&self.rate_limits)
            .map_err(|e| format!("CIVITAS_RATE_LIMITS: {e}"))?;
        let open_data_licence = self.open_data_licence.trim().to_owned();
        if open_data_licence.is_empty()
            || open_data_licence.chars().count() > 200
            || open_data_licence.contains(char::is_control)
        {
            return Err(
                "CIVITAS_OPEN_DATA_LICENCE: expected 1 to 200 characters on one line".into(),
            );
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "CIVITAS_MAIL_FROM: not a mailbox: {:?}",
                self.mail_from
            ));
        }
        let db_pool_size = self
            .db_pool_size
            .unwrap_or_else(|| database.default_pool_size());
        Ok(Config {
            bind: self.bind,
            database,
            public_url,
            data_dir: self.data_dir,
            smtp_url: self.smtp_url.map(SecretString::from),
            mail_from: self.mail_from,
            db_pool_size,
            db_pool_timeout: Duration::from_millis(self.db_pool_timeout_ms),
            escalation_threshold: self.escalation_threshold,
            flag_threshold: self.flag_threshold,
            object_store_url: self
                .object_store_url
                .filter(|url| !url.is_empty())
                .map(SecretString::from),
            max_photos_per_issue: self.max_photos_per_issue,
            jurisdiction_id: self.jurisdiction_id.filter(|id| !id.is_empty()),
            council_name,
            dispatch_interval: Duration::from_millis(self.dispatch_interval_ms),
            webhook_allow_http: self.webhook_allow_http,
            webhook_allow_private: self.webhook_allow_private,
            webhook_retry_delays,
            push_relay_url: self.push_relay_url.filter(|u| !u.is_empty()),
            cors_origins,
            metrics_token: self
                .metrics_token
                .filter(|token| !token.is_empty())
                .map(SecretString::from),
            rate_limits,
            trusted_proxy_hops: self.trusted_proxy_hops,
            open_data_licence,
            log_format: self.log_format,
        })
    }
}

impl Config {
    /// Settings for tests and tools: defaults, with the given database and data directory,
    /// and a pool of 10 on either backend.
    pub fn for_database(database: DatabaseUrl, data_dir: PathBuf) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            public_url: "http://127.0.0.1".into(),
            data_dir,
            smtp_url: None,
            mail_from: "Civitas <no-reply@civitas.local>".into(),
            db_pool_size: 10,
            db_pool_timeout: Duration::from_millis(3000),
            escalation_threshold: 25,
            flag_threshold: 3,
            object_store_url: None,
            max_photos_per_issue: 10,
            jurisdiction_id: None,
            council_name: "The council".into(),
            dispatch_interval: Duration::from_millis(50),
            webhook_allow_http: false,
            webhook_allow_private: false,
            webhook_retry_delays: [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
                .map(Duration::from_secs)
                .to_vec(),
            push_relay_url: None,
            cors_origins: Vec::new(),
            metrics_token: None,
            rate_limits: crate::ratelimit::RateLimits::off(),
            trusted_proxy_hops: 0,
            open_data_licence: DEFAULT_OPEN_DATA_LICENCE.into(),
            log_format: LogFormat::Text,
        }
    }
}

/// Parses a comma-separated list of origins (`https://app.example`, `*`).
pub fn parse_origins(raw: &str) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let valid = origin == "*"
            || ((origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin
                    .trim_end_matches('/')
                    .contains(|c: char| c.is_whitespace())
                && origin.matches('/').count() == 2);
        if !valid {
            return Err(format!(
                "expected origins such as https://app.example, got {origin:?}"
            ));
        }
        origins.push(origin.trim_end_matches('/').to_owned());
    }
    Ok(origins)
}

/// Parses `500ms,5s,5m,2h`: 1 to 20 pauses, each at most a day.
pub fn parse_delays(raw: &str) -> Result<Vec<Duration>, String> {
    let mut delays = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let (number, unit) = part
            .find(|c: char| !c.is_ascii_digit())
            .map_or((part, ""), |at| part.split_at(at));
        let number: u64 = number
            .parse()
            .map_err(|_| format!("expected pauses such as 5s,5m,2h, got {part:?}"))?;
        let delay = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(format!("unknown unit in {part:?}: use ms, s, m or h")),
        };
        if delay > Duration::from_secs(86_400) {
            return Err(format!("{part:?} is longer than a day"));
        }
        delays.push(delay);
    }
    if delays.is_empty() || delays.len() > 20 {
        return Err("give 1 to 20 pauses".into());
    }
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_lose_their_scheme() {
        assert!(matches!(
            DatabaseUrl::parse("sqlite://./data/civitas.db"),
            Ok(DatabaseUrl::Sqlite(path)) if path == std::path::Path::new("./data/civitas.db")
        ));
        assert!(matches!(
            DatabaseUrl::parse("sqlite:///var/lib/civitas.db"),
            Ok(DatabaseUrl::Sqlite(path)) if path == std::path::Path::new("/var/lib/civitas.db")
        ));
    }

    #[test]
    fn retry_delays_parse_with_units_and_refuse_nonsense() {
        assert_eq!(
            parse_delays("500ms, 5s,5m,2h").unwrap(),
            vec![
                Duration::from_millis(500),
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(7200)
            ]
        );
        assert!(parse_delays("").is_err());
        assert!(parse_delays("5x").is_err());
        assert!(parse_delays("25h").is_err());
    }

    /// The settings `civitas ARGS…` would run with, or the error it would stop with.
    fn parse(args: &[&str]) -> Result<Config, String> {
        Cli::try_parse_from([&["civitas"], args].concat())
            .unwrap()
            .settings
            .validate()
    }

    #[test]
    fn the_open_data_licence_defaults_and_must_be_one_short_line() {
        assert_eq!(
            parse(&[]).unwrap().open_data_licence,
            DEFAULT_OPEN_DATA_LICENCE
        );
        assert_eq!(
            parse(&["--open-data-licence", " CC BY 4.0 "])
                .unwrap()
                .open_data_licence,
            "CC BY 4.0"
        );
        for bad in ["  ", "two\nlines", &"x".repeat(201)] {
            let error = parse(&["--open-data-licence", bad]).unwrap_err();
            assert!(error.starts_with("CIVITAS_OPEN_DATA_LICENCE"), "{error}");
        }
    }

    #[test]
    fn the_pool_defaults_by_backend_and_a_setting_overrides_it() {
        let pool = |args: &[&str]| parse(args).unwrap().db_pool_size;
        let sqlite = ["--database-url", "sqlite:///tmp/civitas-pool.db"];
        let postgres = ["--database-url", "postgres://civitas@localhost/civitas"];
        assert_eq!(pool(&sqlite) as usize, 2 * cores() + 1);
        assert_eq!(pool(&postgres), 10);
        assert_eq!(pool(&[&sqlite[..], &["--db-pool-size", "7"]].concat()), 7);
        assert_eq!(pool(&[&postgres[..], &["--db-pool-size", "3"]].concat()), 3);
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_setting_named() {
        let error = DatabaseUrl::parse("mysql://localhost/x").unwrap_err();
        assert!(error.starts_with("DATABASE_URL"));
    }
}
