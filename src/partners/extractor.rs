//! The `PartnerClient` extractor: a request made with a partner client's access token.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::Scope;
use super::models::find_client;
use crate::auth::extractors::{app_state, bearer_token, has_partner_token};
use crate::auth::tokens::{ACCESS_TOKEN_TYP, token_typ, verify_partner_token};
use crate::auth::{AuthUser, CitizenToCheck};
use crate::db;
use crate::error::ApiError;

/// A partner client, authenticated by its access token and checked on every request: a
/// disabled client's tokens stop working at once, and a scope taken away since the token
/// was issued is no longer granted.
#[derive(Debug, Clone)]
pub struct PartnerClient {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl PartnerClient {
    /// 403 `insufficient_scope` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                format!("This needs the `{}` scope.", scope.as_str()),
            ))
        }
    }
}

impl FromRequest for PartnerClient {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(client) = req.extensions().get::<PartnerClient>() {
            let client = client.clone();
            return Box::pin(async move { Ok(client) });
        }
        let token = bearer_token(req);
        let state = app_state(req);
        let req = req.clone();
        Box::pin(async move {
            let (token, state) = (token?, state?);
            if token_typ(&token).as_deref() == Some(ACCESS_TOKEN_TYP) {
                return Err(ApiError::forbidden(
                    "partners_only",
                    "This route is for partner clients; a citizen's token cannot use it.",
                ));
            }
            let app = state.clone();
            let client = db::read(&state.pool, move |conn| {
                let claims = verify_partner_token(&app.keys, conn, &app.config.public_url, &token)?;
                let row = find_client(conn, &claims.client_id)
                    .ok()
                    .filter(|row| row.is_active())
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "client_disabled",
                            "This client is disabled or no longer exists.",
                        )
                    })?;
                let granted = row.scopes();
                let scopes = Scope::parse_list(&claims.scope)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|scope| granted.contains(scope))
                    .collect();
                Ok(PartnerClient {
                    id: row.id,
                    name: row.name,
                    scopes,
                })
            })
            .await?;
            req.extensions_mut().insert(client.clone());
            Ok(client)
        })
    }
}

/// Who makes a request that both residents and partners may make: a signed-in account,
/// or a partner client (told apart by the token's `typ`). A route that checks a
/// citizen's session in its own write takes [`CallerToCheck`] instead.
#[derive(Debug, Clone)]
pub enum Caller<Citizen = AuthUser> {
    Citizen(Citizen),
    Partner(PartnerClient),
}

impl<C> FromRequest for Caller<C>
where
    C: FromRequest<Error = ApiError> + 'static,
    C::Future: 'static,
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if has_partner_token(req) {
            let client = PartnerClient::from_request(req, payload);
            Box::pin(async move { Ok(Self::Partner(client.await?)) })
        } else {
            let citizen = C::from_request(req, payload);
            Box::pin(async move { Ok(Self::Citizen(citizen.await?)) })
        }
    }
}

/// A [`Caller`] whose citizen's session the route checks in its own write
/// ([`CallerToCheck::check`]), as [`CitizenToCheck`]; a partner client is checked at once.
pub type CallerToCheck = Caller<CitizenToCheck>;

impl CallerToCheck {
    /// The caller, a citizen's session checked on `conn`.
    pub fn check(self, conn: &mut db::DbConnection) -> Result<Caller, ApiError> {
        match self {
            Self::Citizen(citizen) => citizen.check(conn).map(Caller::Citizen),
            Self::Partner(client) => Ok(Caller::Partner(client)),
        }
    }
}
