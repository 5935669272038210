//! Extractors that authenticate a request: `AuthUser` (any signed-in account),
//! `VerifiedCitizen` (email verified; needed to create content) and `RoleGuard<R>`
//! (a role from the set `R`). `Viewer` (reads) and `CitizenToCheck` (writes) verify the
//! token at once and leave the session's check to the route's own statement.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;

use super::tokens::{
    AccessClaims, PARTNER_TOKEN_TYP, VerifiedAccess, token_typ, verify_access_token,
};
use crate::db::{self, schema::accounts, schema::sessions};
use crate::domain::Role;
use crate::error::ApiError;
use crate::startup::AppState;

/// What authenticating a request reads: the session's account, revocation and expiry,
/// and the account's role, verification, suspension and ban ([`session_columns`]).
pub type SessionCheck = (
    String,
    Option<NaiveDateTime>,
    NaiveDateTime,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// The columns of a [`SessionCheck`], from `sessions` joined to their accounts: for a
/// route that reads the session in its own statement (see [`SessionToCheck`]).
#[diesel::dsl::auto_type]
pub(crate) fn session_columns() -> _ {
    (
        sessions::account_id,
        sessions::revoked_at,
        sessions::expires_at,
        accounts::role,
        accounts::email_verified_at,
        accounts::suspended_until,
        accounts::banned_at,
    )
}

/// A signed-in account, checked against its session on every request: revoking the
/// session (logout, password change) stops its access tokens at once.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub account_id: String,
    pub session_id: String,
    pub role: Role,
    pub email_verified: bool,
    /// When a moderator's suspension of the account ends (it may have ended already):
    /// until then it can read but not post (see [`VerifiedCitizen`]).
    pub suspended_until: Option<NaiveDateTime>,
}

impl AuthUser {
    /// The end of the account's suspension, if it is suspended now.
    pub fn suspended_now(&self) -> Option<NaiveDateTime> {
        self.suspended_until
            .filter(|until| *until > Utc::now().naive_utc())
    }

    /// What [`VerifiedCitizen`] requires: `403 email_not_verified` until the account's
    /// email is verified, then [`AuthUser::ensure_may_post`].
    pub fn ensure_may_create(&self) -> Result<(), ApiError> {
        if !self.email_verified {
            return Err(ApiError::forbidden(
                "email_not_verified",
                "Verify your email address first.",
            ));
        }
        self.ensure_may_post()
    }

    /// Refuses an account a moderator suspended (`403 account_suspended`, naming the
    /// end): it may read, but create nothing. [`VerifiedCitizen`] calls it; a route that
    /// takes a plain `AuthUser` (or `Caller`) and creates content should too.
    pub fn ensure_may_post(&self) -> Result<(), ApiError> {
        match self.suspended_now() {
            Some(until) => {
                let until = crate::db::utc(until).to_rfc3339_opts(SecondsFormat::Secs, true);
                Err(ApiError::forbidden(
                    "account_suspended",
                    format!(
                        "A moderator suspended this account until {until}: until then it can \
                         read but not post."
                    ),
                ))
            }
            None => Ok(()),
        }
    }
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "Send `Authorization: Bearer <access token>`.",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("invalid_token", "Malformed Authorization header."))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "Malformed Authorization header.")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() || token.len() > 4096 {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "Send `Authorization: Bearer <access token>`.",
        ));
    }
    Ok(token.trim().to_owned())
}

/// Whether the request carries a partner client's access token (told by its `typ`).
pub(crate) fn has_partner_token(req: &HttpRequest) -> bool {
    bearer_token(req)
        .ok()
        .and_then(|token| token_typ(&token))
        .is_some_and(|typ| typ == PARTNER_TOKEN_TYP)
}

pub(crate) fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(user) = req.extensions().get::<AuthUser>() {
            let user = user.clone();
            return Box::pin(async move { Ok(user) });
        }
        let session = Session::of_citizen(req);
        let req = req.clone();
        Box::pin(async move {
            let session = session?;
            let state = session.state.clone();
            let user = db::read_one_statement(&state.pool, move |conn| session.check(conn)).await?;
            req.extensions_mut().insert(user.clone());
            Ok(user)
        })
    }
}

/// `403 citizens_only` for a partner client's token, on a route for citizens' accounts.
fn refuse_partner(token: &str) -> Result<(), ApiError> {
    if token_typ(token).as_deref() == Some(PARTNER_TOKEN_TYP) {
        return Err(ApiError::forbidden(
            "citizens_only",
            "This route is for citizens' accounts; a partner client cannot use it.",
        ));
    }
    Ok(())
}

/// The claims of `token` if the rate limiter verified them earlier in this request.
fn verified_claims(req: &HttpRequest, token: &str) -> Option<AccessClaims> {
    req.extensions()
        .get::<VerifiedAccess>()
        .filter(|verified| verified.token == token)
        .map(|verified| verified.claims.clone())
}

/// A citizen's access token, its session still to be checked.
struct Session {
    state: web::Data<AppState>,
    token: String,
    /// Its claims, when the rate limiter verified the token already.
    verified: Option<AccessClaims>,
}

impl Session {
    /// The token `req` carries: `401` without a well-formed one.
    fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        let token = bearer_token(req)?;
        Ok(Self {
            verified: verified_claims(req, &token),
            token,
            state: app_state(req)?,
        })
    }

    /// [`Session::of`], and `403 citizens_only` for a partner client's token.
    fn of_citizen(req: &HttpRequest) -> Result<Self, ApiError> {
        let session = Self::of(req)?;
        refuse_partner(&session.token)?;
        Ok(session)
    }

    /// The token's claims: those the rate limiter verified, or verified now.
    fn claims(self, conn: &mut db::DbConnection) -> Result<AccessClaims, ApiError> {
        match self.verified {
            Some(claims) => Ok(claims),
            None => verify_access_token(
                &self.state.keys,
                conn,
                &self.state.config.public_url,
                &self.token,
            ),
        }
    }

    /// Verifies the token (unless verified already) and checks its session on `conn`:
    /// the account behind it while the session is live and the account not banned.
    fn check(self, conn: &mut db::DbConnection) -> Result<AuthUser, ApiError> {
        let token = SessionToCheck(self.claims(conn)?);
        let row: Option<SessionCheck> = db::on_backend!(conn, |c| sessions::table
            .inner_join(accounts::table)
            .filter(sessions::id.eq(token.session_id()))
            .select(session_columns())
            .first(c)
            .optional())?;
        token.user(row)
    }
}

/// A citizen's access token whose session the route checks in its own write, rather
/// than on a trip of its own to the blocking pool first: [`CitizenToCheck::verify`],
/// then the session's [`session_columns`] read in the write's first statement and
/// admitted by [`SessionToCheck::user`] before anything changes. A malformed token, or a
/// partner client's, is refused at once, as [`AuthUser`] refuses it.
pub struct CitizenToCheck(Session);

impl FromRequest for CitizenToCheck {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(Session::of_citizen(req).map(Self))
    }
}

impl CitizenToCheck {
    /// Verifies the token (unless the rate limiter did), leaving its session to check.
    pub fn verify(self, conn: &mut db::DbConnection) -> Result<SessionToCheck, ApiError> {
        self.0.claims(conn).map(SessionToCheck)
    }

    /// Verifies the token and checks its session on `conn`, in a statement of its own:
    /// the signed-in account, or `401` as [`AuthUser`] answers.
    pub fn check(self, conn: &mut db::DbConnection) -> Result<AuthUser, ApiError> {
        self.0.check(conn)
    }
}

/// A citizen's access token, verified, whose session is still to be checked: by a
/// route that reads the session's [`session_columns`] in the same statement as what it
/// shows, to save a round trip. Nothing is shown before [`SessionToCheck::user`] has
/// admitted the session, so revoking it still takes effect at once.
pub struct SessionToCheck(AccessClaims);

impl SessionToCheck {
    /// The session the token belongs to.
    pub fn session_id(&self) -> &str {
        &self.0.sid
    }

    /// The account the token names; the session's, if the check admits it.
    pub fn account_id(&self) -> &str {
        &self.0.sub
    }

    /// [`SessionToCheck::user`] for a statement that read the session's check together
    /// with something else (`found`: `None` when there is no such session): the
    /// signed-in account and what came with its check, or `401` and nothing.
    pub fn admit<T>(
        self,
        found: Option<(SessionCheck, Option<T>)>,
    ) -> Result<(AuthUser, Option<T>), ApiError> {
        let (check, with) = found.unzip();
        Ok((self.user(check)?, with.flatten()))
    }

    /// The signed-in account, if `row` (the session's check, `None` when there is no
    /// such session) shows the session live and its account not banned; `401
    /// session_ended` otherwise.
    pub fn user(self, row: Option<SessionCheck>) -> Result<AuthUser, ApiError> {
        let claims = self.0;
        let now = Utc::now().naive_utc();
        // A ban revokes every session; checking it here as well closes the gap of a
        // sign-in that raced the ban.
        match row {
            Some((account_id, None, expires_at, role, verified, suspended_until, None))
                if account_id == claims.sub && expires_at > now =>
            {
                Ok(AuthUser {
                    account_id,
                    session_id: claims.sid,
                    role: Role::parse(&role).unwrap_or(Role::Citizen),
                    email_verified: verified.is_some(),
                    suspended_until,
                })
            }
            _ => Err(ApiError::unauthorized(
                "session_ended",
                "This session has ended; sign in again.",
            )),
        }
    }
}

/// A signed-in account whose email is verified and which no moderator has suspended:
/// required to create content (`403 email_not_verified`, `403 account_suspended`).
#[derive(Debug, Clone)]
pub struct VerifiedCitizen(pub AuthUser);

impl FromRequest for VerifiedCitizen {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            user.ensure_may_create()?;
            Ok(Self(user))
        })
    }
}

/// A set of roles a route admits.
pub trait RoleSet {
    const ALLOWED: &'static [Role];
    const DESCRIPTION: &'static str;
}

/// Moderators, officers and admins.
pub struct Staff;
impl RoleSet for Staff {
    const ALLOWED: &'static [Role] = &[Role::Moderator, Role::Officer, Role::Admin];
    const DESCRIPTION: &'static str = "staff (moderator, officer or admin)";
}

/// Moderators and admins: the moderation routes.
pub struct Moderators;
impl RoleSet for Moderators {
    const ALLOWED: &'static [Role] = &[Role::Moderator, Role::Admin];
    const DESCRIPTION: &'static str = "a moderator or admin";
}

/// Officers and admins (council staff).
pub struct Officers;
impl RoleSet for Officers {
    const ALLOWED: &'static [Role] = &[Role::Officer, Role::Admin];
    const DESCRIPTION: &'static str = "an officer or admin";
}

/// Admins only.
pub struct AdminOnly;
impl RoleSet for AdminOnly {
    const ALLOWED: &'static [Role] = &[Role::Admin];
    const DESCRIPTION: &'static str = "an admin";
}

/// A signed-in account holding one of the roles of `R`; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct RoleGuard<R: RoleSet>(pub AuthUser, PhantomData<R>);

impl<R: RoleSet + 'static> FromRequest for RoleGuard<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if !R::ALLOWED.contains(&user.role) {
                return Err(ApiError::forbidden(
                    "forbidden",
                    format!("Only {} may do this.", R::DESCRIPTION),
                ));
            }
            Ok(Self(user, PhantomData))
        })
    }
}

/// Whether a read route serves the request as it serves the public: it carries no
/// `Authorization` header, or a partner client's token (partners read public routes as
/// the public does). [`MaybeUser`] and [`Viewer`] both decide by this.
fn reads_as_public(req: &HttpRequest) -> bool {
    !req.headers().contains_key(header::AUTHORIZATION) || has_partner_token(req)
}

/// The signed-in account when the request carries a token, `None` when it carries none
/// (or a partner client's token: partners see what the public sees).
/// A token that is present but not valid is still refused (401): a client with a broken
/// token should hear about it rather than silently see the public view.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if reads_as_public(req) {
            return Box::pin(async { Ok(Self(None)) });
        }
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move { Ok(Self(Some(user.await?))) })
    }
}

/// The caller of a read route, as [`MaybeUser`] sees them, with the session check left
/// to the route's own read ([`Viewer::check`]), or to its own statement
/// ([`Viewer::verify`]), rather than a trip of its own to the blocking pool: one trip
/// less for the busiest reads. A malformed token is still refused at once.
pub struct Viewer(Option<Session>);

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(Self::pending(req))
    }
}

impl Viewer {
    fn pending(req: &HttpRequest) -> Result<Self, ApiError> {
        if reads_as_public(req) {
            return Ok(Self(None));
        }
        // Not the public's, so not a partner's token either: no need to decode it again.
        Session::of(req).map(|session| Self(Some(session)))
    }

    /// Whether the request carries a citizen's token (its session not checked yet).
    pub fn signed_in(&self) -> bool {
        self.0.is_some()
    }

    /// Checks the caller's session on `conn`: `None` for the public, `401` for a token
    /// whose session has ended, as [`MaybeUser`].
    pub fn check(self, conn: &mut db::DbConnection) -> Result<Option<AuthUser>, ApiError> {
        self.0.map(|session| session.check(conn)).transpose()
    }

    /// Verifies the caller's token, leaving its session to the route's own statement
    /// (see [`SessionToCheck`]): `None` for the public.
    pub fn verify(self, conn: &mut db::DbConnection) -> Result<Option<SessionToCheck>, ApiError> {
        self.0
            .map(|session| session.claims(conn).map(SessionToCheck))
            .transpose()
    }
}
