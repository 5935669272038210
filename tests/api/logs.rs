//! Logs: the real `civitas` binary, logging as verbosely as it can (trace, JSON), never
//! writes a secret it was given or handed out: passwords, access and refresh tokens,
//! mail tokens, client secrets, webhook secrets, the database password.

use reqwest::Response;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::{Node, NodeDatabase};

/// As much logging as makes sense: everything of Civitas and actix at trace, the HTTP
/// and TLS plumbing (which logs raw bytes at trace) at info.
const VERBOSE: &str = "trace,h2=info,hyper=info,hyper_util=info,reqwest=info,rustls=info";

/// Waits for the unread mail to `to` that says `label: <token>`.
async fn mail_token(dir: &Path, to: &str, label: &str, read: &mut Vec<PathBuf>) -> String {
    let needle = format!("{label}: ");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir(dir.join("mail")).into_iter().flatten() {
            let path = entry.unwrap().path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if read.contains(&path) || !text.contains(&format!("To: {to}")) {
                continue;
            }
            if let Some(start) = text.find(&needle) {
                read.push(path);
                return text[start + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
            }
        }
        assert!(Instant::now() < deadline, "no mail with {label:?} to {to}");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The secrets seen so far, each with what it is.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, secret: &str) -> String {
        assert!(
            secret.len() >= 10,
            "{what} is too short to look for: {secret:?}"
        );
        self.0.push((what.to_owned(), secret.to_owned()));
        secret.to_owned()
    }

    /// Takes a string field of a JSON answer as a secret.
    fn take(&mut self, what: &str, body: &Value, field: &str) -> String {
        let secret = body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {body}"));
        self.add(what, secret)
    }

    /// What must not be in the log: each secret, its first 16 characters (a log might
    /// cut it short) and, for a JWT, whose header every token shares, its payload and
    /// signature and the first 16 characters of the signature.
    fn needles(&self) -> Vec<(String, String)> {
        let mut needles = Vec::new();
        for (what, secret) in &self.0 {
            needles.push((what.clone(), secret.clone()));
            let parts: Vec<&str> = secret.split('.').collect();
            if parts.len() == 3 {
                needles.push((format!("{what} (payload)"), parts[1].to_owned()));
                needles.push((format!("{what} (signature)"), parts[2].to_owned()));
                needles.push((
                    format!("{what} (signature prefix)"),
                    parts[2][..16].to_owned(),
                ));
            } else if secret.len() > 16 {
                needles.push((format!("{what} (prefix)"), secret[..16].to_owned()));
            }
        }
        needles
    }
}

async fn json(response: Response, status: u16) -> Value {
    let url = response.url().clone();
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The node's requests, as the journey sends them.
trait Journey {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response;
    async fn get(&self, path: &str, token: &str) -> Response;
}

impl Journey for Node {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut request = self.client.post(self.api(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

#[actix_web::test]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("civitas.log");
    let database = NodeDatabase::fresh(dir.path());
    let mut secrets = Secrets::default();
    if let Some(password) = database.password() {
        secrets.add("the database password", &password);
    }
    let mut server = Node::new(&database.url, dir.path())
        .log_to(&log)
        .env("RUST_LOG", VERBOSE)
        .env("CIVITAS_LOG_FORMAT", "json")
        // The webhook points at this machine: no name to resolve, and no event it
        // subscribes to happens, so nothing is ever sent.
        .env("CIVITAS_WEBHOOK_ALLOW_PRIVATE", "true")
        .start()
        .await;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut mails = Vec::new();

    // A citizen: register, verify, sign in, refresh.
    let email = format!("logs-{run}@example.org");
    let first = secrets.add("the first password", &format!("first pw {run}"));
    let body = json!({"email": email, "password": first, "display_name": "Logs"});
    json(server.post("/auth/register", None, body).await, 201).await;
    let token = mail_token(dir.path(), &email, "verification token", &mut mails).await;
    let token = secrets.add("the verification token", &token);
    let verified = server
        .post("/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
    let wrong = secrets.add("a wrong password", &format!("wrong pw {run}"));
    let refused = server
        .post(
            "/auth/login",
            None,
            json!({"email": email, "password": wrong}),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let body = json!({"email": email, "password": first});
    let pair = json(server.post("/auth/login", None, body).await, 200).await;
    let access = secrets.take("the first access token", &pair, "access_token");
    let refresh = secrets.take("the first refresh token", &pair, "refresh_token");
    json(server.get("/me", &access).await, 200).await;
    let body = json!({"refresh_token": refresh});
    let pair = json(server.post("/auth/refresh", None, body).await, 200).await;
    let access = secrets.take("the refreshed access token", &pair, "access_token");
    secrets.take("the refreshed refresh token", &pair, "refresh_token");
    json(server.get("/me/sessions", &access).await, 200).await;

    // Change the password, then forget it and reset it by mail.
    let second = secrets.add("the second password", &format!("second pw {run}"));
    let body = json!({"current_password": first, "new_password": second});
    let changed = server.post("/me/password", Some(&access), body).await;
    assert_eq!(changed.status(), 204);
    let body = json!({"email": email});
    json(server.post("/auth/password-reset", None, body).await, 202).await;
    let token = mail_token(dir.path(), &email, "reset token", &mut mails).await;
    let token = secrets.add("the reset token", &token);
    let third = secrets.add("the third password", &format!("third pw {run}"));
    let body = json!({"token": token, "new_password": third});
    let reset = server
        .post("/auth/password-reset/confirm", None, body)
        .await;
    assert_eq!(reset.status(), 204);
    let body = json!({"email": email, "password": third});
    let pair = json(server.post("/auth/login", None, body).await, 200).await;
    let citizen = secrets.take("the citizen's last access token", &pair, "access_token");
    secrets.take("the citizen's last refresh token", &pair, "refresh_token");
    json(server.get("/me/notifications", &citizen).await, 200).await;

    // An admin from the command line, and a partner client.
    let admin_email = format!("logs-admin-{run}@example.org");
    let admin_password = secrets.add("the admin's password", &format!("admin pw {run}"));
    let args = [
        "user",
        "create",
        "--email",
        &admin_email,
        "--password-stdin",
        "--role",
        "admin",
    ];
    server.cli(&args, &format!("{admin_password}\n"));
    let body = json!({"email": admin_email, "password": admin_password});
    let pair = json(server.post("/auth/login", None, body).await, 200).await;
    let admin = secrets.take("the admin's access token", &pair, "access_token");
    secrets.take("the admin's refresh token", &pair, "refresh_token");
    json(server.get("/clients", &admin).await, 200).await;
    let args = [
        "client",
        "create",
        "--name",
        "Log Partner",
        "--scopes",
        "webhooks:manage",
        "issues:read",
    ];
    let created = server.cli(&args, "");
    let field = |name: &str| {
        created
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("{name} in {created}"))
    };
    let client_id = field("client_id:");
    let client_secret = secrets.add("the client secret", &field("client_secret:"));

    // Client credentials: HTTP Basic, then form fields, then a wrong secret.
    let token_url = server.api("/oauth/token");
    let grant = [("grant_type", "client_credentials")];
    let response = server
        .client
        .post(&token_url)
        .basic_auth(&client_id, Some(&client_secret))
        .form(&grant)
        .send()
        .await
        .unwrap();
    let partner = secrets.take(
        "a partner token (Basic)",
        &json(response, 200).await,
        "access_token",
    );
    let response = server
        .client
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
        ])
        .send()
        .await
        .unwrap();
    let form = secrets.take(
        "a partner token (form)",
        &json(response, 200).await,
        "access_token",
    );
    let wrong_secret = secrets.add("a wrong client secret", &format!("cvs_wrong{run}"));
    let response = server
        .client
        .post(&token_url)
        .basic_auth(&client_id, Some(&wrong_secret))
        .form(&grant)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A webhook, whose signing secret is in the answer; partner tokens on several routes.
    let body = json!({"url": "https://127.0.0.1:9/hook", "events": ["opportunity.published"]});
    let hook = json(server.post("/webhooks", Some(&partner), body).await, 201).await;
    secrets.take("the webhook secret", &hook, "secret");
    json(server.get("/webhooks", &form).await, 200).await;
    json(server.get("/issues", &partner).await, 200).await;

    // The admin rotates the client secret; the new one works.
    let path = format!("/clients/{client_id}/secret");
    let rotated = json(server.post(&path, Some(&admin), json!({})).await, 200).await;
    let rotated = secrets.take("the rotated client secret", &rotated, "client_secret");
    let response = server
        .client
        .post(&token_url)
        .basic_auth(&client_id, Some(&rotated))
        .form(&grant)
        .send()
        .await
        .unwrap();
    let fresh = secrets.take(
        "a partner token (rotated)",
        &json(response, 200).await,
        "access_token",
    );
    json(
        server
            .get(
                &format!("/webhooks/{}", hook["id"].as_str().unwrap()),
                &fresh,
            )
            .await,
        200,
    )
    .await;

    // Sign out; the token stops working.
    for token in [&citizen, &admin] {
        let out = server.post("/auth/logout", Some(token), json!({})).await;
        assert_eq!(out.status(), 204);
    }
    assert_eq!(server.get("/me", &citizen).await.status(), 401);

    // Stop the server so every line is written, then read what it and the CLI logged.
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    let text = std::fs::read_to_string(&log).unwrap();

    // The log is real: JSON lines at trace level, with the access log of the journey.
    assert!(text.lines().count() > 50, "too quiet a log:\n{text}");
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        lines.iter().any(|line| line["level"] == "TRACE"),
        "nothing at trace level"
    );
    let backend = if database.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "starting civitas" && line["database"] == backend),
        "the server did not start on {backend}"
    );
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/me/password",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/oauth/token",
        "/api/v1/webhooks",
        "/api/v1/auth/logout",
    ] {
        assert!(
            lines.iter().any(|line| line["message"] == "request served"
                && line.to_string().contains(&format!("\"{path}\""))),
            "no access log line for {path}"
        );
    }

    let leaks: Vec<String> = secrets
        .needles()
        .into_iter()
        .filter(|(_, needle)| text.contains(needle.as_str()))
        .map(|(what, needle)| {
            let line = text.lines().find(|line| line.contains(&needle)).unwrap();
            format!("{what} is in the log: {line}")
        })
        .collect();
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    assert!(
        secrets.0.len() >= 20,
        "only {} secrets collected",
        secrets.0.len()
    );
}
