//! `TestApp`: a Civitas server on a random port with a fresh database of its own
//! (a SQLite file, or a new PostgreSQL database when `TEST_POSTGRES_URL` is set), run
//! inside the test. `Node`: the real `civitas` binary as a process of its own, for tests
//! that kill it, signal it, restart it, read its log or run two of them on one database.

use actix_web::web;
use civitas::config::{Config, DatabaseUrl};
use civitas::startup::{AppState, Application};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::{Client, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub state: web::Data<AppState>,
    pub data_dir: tempfile::TempDir,
    /// The database URL the server uses (for running the CLI against it).
    pub database_url: String,
    postgres: Option<(String, String)>,
    mails_read: Mutex<HashSet<PathBuf>>,
}

/// A signed-in citizen.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
}

impl Citizen {
    /// The session a `POST /auth/login` answer describes.
    fn from_login(email: &str, body: &Value) -> Self {
        let field = |name: &str| body[name].as_str().expect(name).to_owned();
        Self {
            email: email.to_owned(),
            access_token: field("access_token"),
            refresh_token: field("refresh_token"),
            session_id: field("session_id"),
        }
    }
}

/// A partner client made with `civitas client create`.
#[derive(Debug, Clone)]
pub struct Partner {
    pub id: String,
    /// The client secret, also its Open311 `api_key`.
    pub secret: String,
}

impl Partner {
    /// The client `civitas client create` printed.
    fn from_client_create(stdout: &str) -> Self {
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .unwrap_or_else(|| panic!("{name} in {stdout}"))
        };
        Self {
            id: field("client_id:"),
            secret: field("client_secret:"),
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..authority_end], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

pub fn backend_is_postgres() -> bool {
    std::env::var("TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty())
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customise: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (database, database_url, postgres) = match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("civitas_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin =
                    PgConnection::establish(&admin_url).expect("TEST_POSTGRES_URL reachable");
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create test database");
                let url = with_database(&admin_url, &name);
                (
                    DatabaseUrl::Postgres(SecretString::from(url.clone())),
                    url,
                    Some((admin_url, name)),
                )
            }
            _ => {
                let path = data_dir.path().join("civitas.db");
                let url = format!("sqlite://{}", path.display());
                (DatabaseUrl::Sqlite(path), url, None)
            }
        };
        let mut config = Config::for_database(database, data_dir.path().to_owned());
        customise(&mut config);
        let app = Application::build(config).await.expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            address,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            state,
            data_dir,
            database_url,
            postgres,
            mails_read: Mutex::new(HashSet::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.api(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json_as(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send_json_as(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn patch_json_as(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send_json_as(reqwest::Method::PATCH, path, token, body)
            .await
    }

    async fn send_json_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Response {
        self.client
            .request(method, self.api(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> Response {
        self.post_json(
            "/auth/register",
            &json!({"email": email, "password": password, "display_name": display_name}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Waits for an unread mail to `to` that carries `label: <token>` and returns the token.
    pub async fn mail_token(&self, to: &str, label: &str) -> String {
        self.try_mail_token(to, label, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail with {label:?} reached {to}"))
    }

    /// Like `mail_token`, but gives up after `wait`.
    pub async fn try_mail_token(&self, to: &str, label: &str, wait: Duration) -> Option<String> {
        let dir = self.data_dir.path().join("mail");
        let deadline = std::time::Instant::now() + wait;
        let needle = format!("{label}: ");
        loop {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if self.mails_read.lock().expect("lock").contains(&path) {
                        continue;
                    }
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    if !text.contains(&format!("To: {to}")) {
                        continue;
                    }
                    if let Some(start) = text.find(&needle) {
                        let token: String = text[start + needle.len()..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                            .collect();
                        self.mails_read.lock().expect("lock").insert(path);
                        return Some(token);
                    }
                }
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Registers, verifies the email and signs in.
    pub async fn citizen(&self, email: &str) -> Citizen {
        let response = self.register(email, PASSWORD, "Test Citizen").await;
        assert_eq!(response.status(), 201, "register {email}");
        let token = self.mail_token(email, "verification token").await;
        let response = self
            .post_json("/auth/verify-email", &json!({"token": token}))
            .await;
        assert_eq!(response.status(), 204, "verify {email}");
        self.sign_in(email, PASSWORD).await
    }

    /// Registers and signs in, leaving the email unverified.
    pub async fn unverified(&self, email: &str) -> Citizen {
        let response = self.register(email, PASSWORD, "New").await;
        assert_eq!(response.status(), 201, "register {email}");
        self.sign_in(email, PASSWORD).await
    }

    /// Signs `who`'s session out (`POST /auth/logout`).
    pub async fn logout(&self, who: &Citizen) {
        let response = self
            .post_json_as("/auth/logout", &who.access_token, &json!({}))
            .await;
        assert_eq!(response.status(), 204, "logout {}", who.email);
    }

    /// Signs in and returns the session's tokens.
    pub async fn sign_in(&self, email: &str, password: &str) -> Citizen {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), 200, "login {email}");
        Citizen::from_login(email, &response.json().await.expect("json"))
    }

    /// Creates a staff account with `role` through the command line and signs it in.
    pub async fn staff(&self, email: &str, role: &str) -> Citizen {
        let output = self.cli(
            &[
                "user",
                "create",
                "--email",
                email,
                "--password-stdin",
                "--role",
                role,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(
            output.status.success(),
            "user create: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.sign_in(email, PASSWORD).await
    }

    /// Creates a partner client with `scopes` through the command line.
    pub fn partner(&self, name: &str, scopes: &[&str]) -> Partner {
        let mut args = vec!["client", "create", "--name", name, "--scopes"];
        args.extend_from_slice(scopes);
        let output = self.cli(&args, None);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "client create: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Partner::from_client_create(&stdout)
    }

    /// An access token for a partner client (`POST /oauth/token`, all its scopes).
    pub async fn partner_token(&self, partner: &Partner) -> String {
        let response = self
            .client
            .post(self.api("/oauth/token"))
            .basic_auth(&partner.id, Some(&partner.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200, "partner token");
        let body: Value = response.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Sends a request to `/api/v1{path}`, as `who` when given, with a JSON `body` when
    /// given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&Citizen>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.api(path));
        if let Some(who) = who {
            request = request.bearer_auth(&who.access_token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the request is sent")
    }

    /// Runs SQL straight on this app's database, bypassing the API: for tests that check
    /// what the database itself allows, or what it holds.
    pub fn execute_sql(&self, statements: &str) -> Result<(), String> {
        let mut conn = civitas::db::connect(&self.state.config).map_err(|e| e.to_string())?;
        conn.batch_execute(statements).map_err(|e| e.to_string())
    }

    /// Runs the `civitas` binary against this app's database and data directory.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("CIVITAS_DATA_DIR", self.data_dir.path())
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("civitas binary runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("civitas finishes");
        if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&output.status) {
            panic!("civitas {args:?} was killed by signal {signal}");
        }
        output
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// Asserts the status of `response` and returns its JSON body (`null` when empty, the
/// text as a string when it is not JSON).
pub async fn expect(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let url = response.url().to_string();
    let text = response.text().await.expect("a body");
    assert_eq!(code, status, "{url}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:civitas:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// A database of its own for real `civitas` processes: a SQLite file in `dir`, or a new
/// PostgreSQL database, dropped with this guard, when `TEST_POSTGRES_URL` is set.
pub struct NodeDatabase {
    pub url: String,
    /// The SQLite file, on SQLite.
    pub sqlite_path: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl NodeDatabase {
    pub fn fresh(dir: &Path) -> Self {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("civitas_node_{}", uuid::Uuid::now_v7().simple());
                let mut admin =
                    PgConnection::establish(&admin_url).expect("TEST_POSTGRES_URL reachable");
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create test database");
                Self {
                    url: with_database(&admin_url, &name),
                    sqlite_path: None,
                    postgres: Some((admin_url, name)),
                }
            }
            _ => {
                let path = dir.join("civitas.db");
                Self {
                    url: format!("sqlite://{}", path.display()),
                    sqlite_path: Some(path),
                    postgres: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The password in the URL (`scheme://user:password@host/…`), if it has one.
    pub fn password(&self) -> Option<String> {
        let url = url::Url::parse(&self.url).ok()?;
        url.password().filter(|p| !p.is_empty()).map(str::to_owned)
    }

    /// The URL with its host and port replaced by `address`: the same database, reached
    /// through something in between (a proxy the test controls).
    pub fn url_via(&self, address: std::net::SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("a database URL");
        url.set_host(Some(&address.ip().to_string()))
            .expect("a host");
        url.set_port(Some(address.port())).expect("a port");
        url.to_string()
    }
}

impl Drop for NodeDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// A free port on 127.0.0.1 (free when asked: the process that binds it comes soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind port 0")
        .local_addr()
        .expect("local address")
        .port()
}

/// A real `civitas serve` process on a port of its own. Killed (SIGKILL) when dropped,
/// so a failing test leaves none behind.
pub struct Node {
    base: String,
    pub client: Client,
    database_url: String,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// A node of the binary on `database_url` with `data_dir`, not started yet. Logs at
    /// `warn` to `<data_dir>/civitas.log`, without rate limits, with a fixed public URL:
    /// the token issuer, the same across restarts and nodes, as behind one address.
    pub fn new(database_url: &str, data_dir: &Path) -> Self {
        let env = [
            ("RUST_LOG", "warn"),
            ("CIVITAS_RATE_LIMITS", "off"),
            ("CIVITAS_PUBLIC_URL", "http://civitas.test"),
        ];
        Self {
            base: String::new(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            log: data_dir.join("civitas.log"),
            child: None,
        }
    }

    /// Sets an environment variable of the process (and of `cli`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Appends the process's output (and the CLI's log) to `log` instead.
    pub fn log_to(mut self, log: &Path) -> Self {
        self.log = log.to_owned();
        self
    }

    /// The binary with this node's database, data directory and settings, its output
    /// appended to the log.
    fn command(&self) -> Command {
        let file = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .expect("the log file")
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_civitas"));
        command
            .env("DATABASE_URL", &self.database_url)
            .env("CIVITAS_DATA_DIR", &self.data_dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file())
            .stderr(file());
        command
    }

    /// Starts `civitas serve` on a free port, without waiting for it.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "the node is running already");
        let port = free_port();
        self.base = format!("http://127.0.0.1:{port}");
        let child = self
            .command()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .spawn()
            .expect("the civitas binary starts");
        self.child = Some(child);
    }

    /// Starts the node and waits until it is ready.
    pub async fn start(mut self) -> Self {
        self.spawn();
        self.wait_ready(Duration::from_secs(60)).await;
        self
    }

    /// Starts it again (on a new port) after [`kill`](Self::kill) or
    /// [`terminate`](Self::terminate), on the same data, and waits until it is ready.
    pub async fn restart(&mut self) {
        self.spawn();
        self.wait_ready(Duration::from_secs(60)).await;
    }

    /// Whether `/health/ready` answers 200 now.
    pub async fn is_ready(&self) -> bool {
        self.client
            .get(self.url("/health/ready"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    /// Waits until `/health/ready` answers 200; fails with the log if the process exits
    /// or `within` passes first.
    pub async fn wait_ready(&mut self, within: Duration) {
        let deadline = std::time::Instant::now() + within;
        while !self.is_ready().await {
            if let Some(status) = self.exited() {
                panic!("the node exited with {status}: {}", self.log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the node was not ready within {within:?}: {}",
                self.log()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = child.try_wait().expect("try_wait")?;
        self.child = None;
        Some(status)
    }

    /// `kill -9`: no shutdown hooks, no draining; whatever was in flight is cut off.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM (a graceful stop: in-flight requests finish).
    pub fn sigterm(&self) {
        let child = self.child.as_ref().expect("the node is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits (off the async workers) for the process to end.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the node is running");
        actix_web::web::block(move || child.wait())
            .await
            .expect("blocking wait")
            .expect("the node's exit status")
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Everything the node (and the CLI run through it) has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs a command of the binary with this node's settings and `stdin`; fails the
    /// test if it fails. Its log goes to the node's log; its stdout is returned.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the civitas binary runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("civitas finishes");
        assert!(
            output.status.success(),
            "civitas {args:?}: {}\n{}",
            output.status,
            self.log()
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// `civitas user create`: an account with `role`, its email verified.
    pub fn create_user(&self, email: &str, password: &str, role: &str) {
        let args = [
            "user",
            "create",
            "--email",
            email,
            "--password-stdin",
            "--role",
            role,
        ];
        self.cli(&args, &format!("{password}\n"));
    }

    /// `civitas client create`: a partner client with `scopes`.
    pub fn create_partner(&self, name: &str, scopes: &[&str]) -> Partner {
        let mut args = vec!["client", "create", "--name", name, "--scopes"];
        args.extend_from_slice(scopes);
        let stdout = self.cli(&args, "");
        Partner::from_client_create(&stdout)
    }

    /// Signs in through this node.
    pub async fn sign_in(&self, email: &str, password: &str) -> Citizen {
        let response = self
            .client
            .post(self.api("/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login sent");
        Citizen::from_login(email, &expect(response, 200).await)
    }

    /// A partner's access token, from this node (`POST /oauth/token`).
    pub async fn partner_token(&self, partner: &Partner) -> String {
        let response = self
            .client
            .post(self.api("/oauth/token"))
            .basic_auth(&partner.id, Some(&partner.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        let body = expect(response, 200).await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
