//! The subcommands: serve, migrate, openapi, user create, keys rotate, seed.

use std::io::BufRead;

use crate::accounts::models::{self, NewAccount};
use crate::audit::{Entry, Trail};
use crate::auth::{keys, password};
use crate::config::{Cli, ClientCommand, Command, Config, KeysCommand, UserCommand};
use crate::domain::{DisplayName, Email, NewPassword};
use crate::startup::{Application, StoppedWhileWaiting};
use crate::{db, openapi, partners, seed, telemetry};

/// Runs the command the command line asked for (`serve` when none).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", openapi::spec_json()?);
        return Ok(());
    }
    let config = cli.settings.validate().map_err(anyhow::Error::msg)?;
    telemetry::init(config.log_format);
    match command {
        Command::Serve => serve(config).await,
        // Not through `blocking`, which migrates first: there would be nothing to report.
        Command::Migrate => {
            let applied = db::run_migrations(&mut db::connect(&config)?)?;
            println!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            password_stdin: _,
            role,
            display_name,
        }) => {
            let email = Email::parse("email", &email)
                .map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = NewPassword::parse("password", line.trim_end_matches(['\r', '\n']))
                .map_err(|e| anyhow::anyhow!("password: {}", e.message))?;
            let name = display_name.unwrap_or_else(|| {
                email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or("staff")
                    .to_owned()
            });
            let name = DisplayName::parse("display_name", &name)
                .map_err(|e| anyhow::anyhow!("--display-name: {}", e.message))?;
            let hash = password::hash_blocking(password.expose())?;
            blocking(config, move |conn| {
                let now = db::now();
                let account = NewAccount {
                    id: uuid::Uuid::now_v7().to_string(),
                    email: email.into_inner(),
                    display_name: name.into_inner(),
                    password_hash: hash,
                    role: role.as_str().to_owned(),
                    email_verified_at: Some(now),
                    created_at: now,
                    updated_at: now,
                };
                if models::find_account_by_email(conn, &account.email)?.is_some() {
                    anyhow::bail!("an account with this email already exists");
                }
                db::transaction(conn, |conn| {
                    models::insert_account(conn, &account)?;
                    if role.is_staff() {
                        Trail::record_operator(
                            conn,
                            Entry {
                                action: "account.created_with_role",
                                target_type: "account",
                                target_id: &account.id,
                                before: None,
                                after: Some(serde_json::json!({ "role": role.as_str() })),
                                reason: None,
                            },
                        )?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })?;
                println!("{}", account.id);
                Ok(())
            })
        }
        Command::Client(ClientCommand::Create { name, scopes }) => {
            let name =
                partners::views::client_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let scopes = partners::Scope::parse_list(&scopes.join(" "))
                .map_err(|unknown| anyhow::anyhow!("--scopes: no scope {unknown:?}"))?;
            if scopes.is_empty() {
                anyhow::bail!("--scopes: give at least one scope");
            }
            blocking(config, move |conn| {
                let (client, secret) = partners::models::new_client(name, &scopes, db::now());
                db::transaction(conn, |conn| {
                    partners::models::insert_client(conn, &client)?;
                    Trail::record_operator(
                        conn,
                        Entry {
                            action: "client.created",
                            target_type: "client",
                            target_id: &client.id,
                            before: None,
                            after: Some(serde_json::json!({
                                "name": client.name,
                                "scopes": client.scopes,
                            })),
                            reason: None,
                        },
                    )
                })?;
                println!("client_id: {}", client.id);
                println!("client_secret: {secret}");
                println!("scopes: {}", client.scopes);
                Ok(())
            })
        }
        Command::Keys(KeysCommand::Rotate) => blocking(config, |conn| {
            let kid = db::transaction(conn, |conn| {
                let kid = keys::rotate(conn)?;
                Trail::record_operator(
                    conn,
                    Entry {
                        action: "signing_key.rotated",
                        target_type: "signing_key",
                        target_id: &kid,
                        before: None,
                        after: None,
                        reason: None,
                    },
                )?;
                Ok::<_, anyhow::Error>(kid)
            })?;
            println!("{kid}");
            Ok(())
        }),
        Command::Seed(args) => {
            let plan = seed::Plan::try_from(&args).map_err(anyhow::Error::msg)?;
            blocking(config, move |conn| {
                let seeded = seed::run(conn, &plan)?;
                println!(
                    "seeded {} issues and {} accounts in {:.1} s",
                    seeded.issues,
                    seeded.accounts,
                    seeded.elapsed.as_secs_f64()
                );
                Ok(())
            })
        }
        Command::Openapi => Ok(()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(
        bind = %config.bind,
        database = config.database.backend_name(),
        public_url = %config.public_url,
        "starting civitas"
    );
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) if error.is::<StoppedWhileWaiting>() => {
            tracing::info!("stopped before the database was reachable");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens one migrated connection and runs a maintenance command on it.
fn blocking(
    config: Config,
    f: impl FnOnce(&mut db::DbConnection) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut conn = db::connect(&config)?;
    db::run_migrations(&mut conn)?;
    f(&mut conn)
}
