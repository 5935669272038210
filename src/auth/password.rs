//! Argon2id password hashing on the blocking pool, at most one hash per core at a time.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// OWASP's recommended Argon2id parameters: 19 MiB, two passes, one lane.
fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None)?,
    ))
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2()
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(hash.to_string())
}

fn verify_now(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verify with the parameters stored in the hash, so stronger future defaults still
    // accept old hashes.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Hashes and verifies passwords without starving the server: argon2 runs on the
/// blocking pool, and a semaphore admits one hash per core so a login storm queues
/// instead of eating every thread and all memory.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A hash of a random password: verifying against it for unknown emails makes a
        // login for a missing account cost the same as one for a real account.
        let dummy = uuid::Uuid::now_v7().to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: hash_now(&dummy)?.into(),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        actix_web::web::block(move || hash_now(password.expose_secret()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Checks a password against a stored hash; with no hash (unknown account) it checks
    /// against a dummy hash and answers `false`, taking the same time.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let dummy = self.dummy_hash.clone();
        Ok(actix_web::web::block(move || match hash {
            Some(hash) => verify_now(password.expose_secret(), &hash),
            None => {
                verify_now(password.expose_secret(), &dummy);
                false
            }
        })
        .await?)
    }
}

/// Hashes a password on the current thread (command-line tools).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_now(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_now("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now("correct horse battery", &hash));
        assert!(!verify_now("correct horse battery!", &hash));
        assert!(!verify_now("anything", "not a hash"));
    }
}
