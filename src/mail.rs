//! Outgoing mail: SMTP when `CIVITAS_SMTP_URL` is set, otherwise an `.eml` file per
//! message under `<data dir>/mail/`, so developers and tests can read what was sent.
//!
//! Sending happens in the background: a request's response time must not reveal whether
//! a mail went out (that would tell an attacker whether an account exists).

use lettre::message::{Mailbox, header::ContentType};
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use secrecy::ExposeSecret;
use std::path::PathBuf;

use crate::config::Config;

#[derive(Clone)]
enum Transporter {
    Smtp(SmtpTransport),
    File(FileTransport, PathBuf),
}

/// Sends Civitas's mail.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transporter,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("CIVITAS_MAIL_FROM: {e}"))?;
        let transport = match &config.smtp_url {
            Some(url) => Transporter::Smtp(
                SmtpTransport::from_url(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("CIVITAS_SMTP_URL: {e}"))?
                    .build(),
            ),
            None => {
                let dir = config.data_dir.join("mail");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot create the mail drop {dir:?}: {e}"))?;
                Transporter::File(FileTransport::new(&dir), dir)
            }
        };
        Ok(Self { from, transport })
    }

    /// Queues a plain-text message; failures are logged, never shown to the requester.
    pub fn send(&self, to: &str, subject: &str, body: String) {
        let message = match to.parse::<Mailbox>().map(|to| {
            Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body)
        }) {
            Ok(Ok(message)) => message,
            Ok(Err(error)) => {
                tracing::error!(%error, "could not build a mail");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "could not address a mail");
                return;
            }
        };
        let transport = self.transport.clone();
        let subject = subject.to_owned();
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || {
            let _entered = span.enter();
            let result = match &transport {
                Transporter::Smtp(smtp) => smtp.send(&message).map(|_| ()).map_err(|e| e.to_string()),
                Transporter::File(file, dir) => file
                    .send(&message)
                    .map(|id| tracing::info!(path = %dir.join(format!("{id}.eml")).display(), %subject, "mail written"))
                    .map_err(|e| e.to_string()),
            };
            if let Err(error) = result {
                tracing::error!(%error, %subject, "mail could not be sent");
            }
        });
    }
}
