//! Ed25519 signing keys, stored in the database so every node signs and verifies with
//! the same set. The newest key signs; every stored key verifies, so rotating never logs
//! anyone out. Public halves are served as a JWKS.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::rngs::OsRng;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::signing_keys;

/// How long a superseded key stays published: far longer than any access token lives.
const SUPERSEDED_KEY_RETENTION: TimeDelta = TimeDelta::days(1);
/// Unknown `kid`s trigger a reload at most this often, so forged ones cannot hammer the
/// database.
const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct SigningKeyRow {
    kid: String,
    private_key: String,
    public_key: String,
    created_at: NaiveDateTime,
}

/// One public key in JWK form (RFC 8037: `OKP`, `Ed25519`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    #[schema(example = "OKP")]
    pub kty: &'static str,
    #[schema(example = "Ed25519")]
    pub crv: &'static str,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub key_use: &'static str,
}

/// The JSON Web Key Set at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

struct Loaded {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: JwkSet,
    loaded_at: Instant,
}

/// The keys of this node, reloaded from the database when another node (or `civitas keys
/// rotate`) has added one.
pub struct KeyStore {
    loaded: RwLock<Loaded>,
    /// Access tokens whose signature this node has verified (see
    /// [`KeyStore::checked_signature`]).
    checked: quick_cache::sync::Cache<String, CheckedSignature>,
}

/// How many verified tokens a node remembers: a token lives 15 minutes, so this covers
/// that many clients active within a quarter of an hour; beyond it the least used are
/// verified again.
const CHECKED_TOKENS: usize = 16_384;

/// What a node remembers of a token whose signature it verified: the key that signed
/// it, and when the token is valid (`nbf` and `exp`, seconds since the epoch).
#[derive(Debug, Clone)]
pub struct CheckedSignature {
    pub kid: String,
    pub not_before: u64,
    pub expires: u64,
}

fn generate_row(now: NaiveDateTime) -> anyhow::Result<SigningKeyRow> {
    let key = SigningKey::generate(&mut OsRng);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;
    Ok(SigningKeyRow {
        kid: uuid::Uuid::now_v7().simple().to_string(),
        private_key: STANDARD.encode(der.as_bytes()),
        public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
        created_at: now,
    })
}

/// Adds a new signing key and forgets keys superseded long ago. Returns the new `kid`.
pub fn rotate(conn: &mut DbConnection) -> anyhow::Result<String> {
    let now = Utc::now().naive_utc();
    let row = generate_row(now)?;
    diesel::insert_into(signing_keys::table)
        .values(&row)
        .execute(conn)?;
    // A key is superseded when the next one is created; drop the ones whose successor
    // has been signing for longer than the retention.
    let mut created: Vec<NaiveDateTime> = signing_keys::table
        .select(signing_keys::created_at)
        .order(signing_keys::created_at.desc())
        .load(conn)?;
    created.dedup();
    if let Some(cutoff) = created
        .iter()
        .find(|successor_created| now - **successor_created > SUPERSEDED_KEY_RETENTION)
    {
        diesel::delete(signing_keys::table.filter(signing_keys::created_at.lt(cutoff)))
            .execute(conn)?;
    }
    Ok(row.kid)
}

fn load_rows(conn: &mut DbConnection) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .load(conn)
}

fn build(rows: &[SigningKeyRow]) -> anyhow::Result<Loaded> {
    let newest = rows
        .first()
        .ok_or_else(|| anyhow::anyhow!("no signing key in the database"))?;
    let der = STANDARD.decode(&newest.private_key)?;
    let mut verifying = HashMap::new();
    let mut keys = Vec::new();
    for row in rows {
        verifying.insert(
            row.kid.clone(),
            DecodingKey::from_ed_components(&row.public_key)?,
        );
        keys.push(Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: row.public_key.clone(),
            kid: row.kid.clone(),
            alg: "EdDSA",
            key_use: "sig",
        });
    }
    Ok(Loaded {
        signing_kid: newest.kid.clone(),
        signing: EncodingKey::from_ed_der(&der),
        verifying,
        jwks: JwkSet { keys },
        loaded_at: Instant::now(),
    })
}

impl KeyStore {
    /// Loads the keys, creating the first one on a fresh database.
    pub fn load(conn: &mut DbConnection) -> anyhow::Result<Self> {
        let mut rows = load_rows(conn)?;
        if rows.is_empty() {
            rotate(conn)?;
            rows = load_rows(conn)?;
        }
        Ok(Self {
            loaded: RwLock::new(build(&rows)?),
            checked: quick_cache::sync::Cache::new(CHECKED_TOKENS),
        })
    }

    /// What this node remembers of `token` if it verified the token's signature before,
    /// so a client's every request does not pay for an Ed25519 verification again (the
    /// larger part of an authenticated read's CPU otherwise). The token is the key: only
    /// a string whose signature checked out is ever stored, and the caller still checks
    /// the time and that this node still holds the key.
    pub fn checked_signature(&self, token: &str) -> Option<CheckedSignature> {
        self.checked.get(token)
    }

    /// Remembers that `token`'s signature checked out.
    pub fn remember_signature(&self, token: &str, checked: CheckedSignature) {
        self.checked.insert(token.to_owned(), checked);
    }

    fn reload(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        let loaded = build(&load_rows(conn)?)?;
        *self
            .loaded
            .write()
            .map_err(|_| anyhow::anyhow!("key store lock poisoned"))? = loaded;
        Ok(())
    }

    /// The signing key to use now: reloads first if a newer key exists in the database
    /// (one indexed read, done only where a token is issued).
    pub fn signing_key(&self, conn: &mut DbConnection) -> anyhow::Result<(String, EncodingKey)> {
        let newest: Option<String> = signing_keys::table
            .select(signing_keys::kid)
            .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
            .first(conn)
            .optional()?;
        let stale = {
            let loaded = self.read()?;
            newest.as_deref() != Some(loaded.signing_kid.as_str())
        };
        if stale {
            self.reload(conn)?;
        }
        let loaded = self.read()?;
        Ok((loaded.signing_kid.clone(), loaded.signing.clone()))
    }

    /// The verifying key for `kid`, reloading (rate-limited) when it is unknown here.
    pub fn verifying_key(
        &self,
        kid: &str,
        conn: &mut DbConnection,
    ) -> anyhow::Result<Option<DecodingKey>> {
        let may_reload = {
            let loaded = self.read()?;
            if let Some(key) = loaded.verifying.get(kid) {
                return Ok(Some(key.clone()));
            }
            loaded.loaded_at.elapsed() >= UNKNOWN_KID_RELOAD_INTERVAL
        };
        if may_reload {
            self.reload(conn)?;
        }
        Ok(self.read()?.verifying.get(kid).cloned())
    }

    /// The verifying key for `kid` if this node holds it already (no database access).
    pub fn cached_verifying_key(&self, kid: &str) -> anyhow::Result<Option<DecodingKey>> {
        Ok(self.read()?.verifying.get(kid).cloned())
    }

    /// The public keys, as published.
    pub fn jwks(&self, conn: &mut DbConnection) -> anyhow::Result<JwkSet> {
        let stale = self.read()?.loaded_at.elapsed() >= Duration::from_secs(30);
        if stale {
            self.reload(conn)?;
        }
        Ok(self.read()?.jwks.clone())
    }

    fn read(&self) -> anyhow::Result<std::sync::RwLockReadGuard<'_, Loaded>> {
        self.loaded
            .read()
            .map_err(|_| anyhow::anyhow!("key store lock poisoned"))
    }
}
