//! `GET /api/v1/sync`: one ordered feed of what changed for the caller since a cursor.

use actix_web::{get, web};
use std::collections::HashMap;
use utoipa_actix_web::service_config::ServiceConfig;

use super::cursor::{self, Cursor, Position};
use super::views::{SyncItem, SyncPage, SyncQuery};
use super::{Entity, items, models};
use crate::auth::AuthUser;
use crate::db::{self, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// Items per answer when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most items per answer.
pub const MAX_LIMIT: i64 = 100;
/// The most log rows one request reads; past it the answer says `has_more` and the
/// cursor moves to where the reading stopped.
pub const SCAN_BUDGET: i64 = 5000;

/// Registers the sync route (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_changes);
}

/// What changed for you since `since`, in one ordered feed: issues you reported, support
/// or follow; groups you belong to, asked to join or are invited to; your pledges and the
/// opportunities they are for; your notifications; your profile.
///
/// Each item is `{type, id, deleted: false, data}` with `data` exactly as that
/// resource's own `GET` answers you now, or a tombstone `{type, id, deleted: true}` when
/// it was deleted, moderators took it out of public view, or it no longer concerns you
/// (you unfollowed it, left the group, the opportunity was cancelled…). Within one answer each thing appears once, in its latest
/// state; it appears again in a later answer only if it changed again.
///
/// **First sync** (no `since`): a snapshot of everything that concerns you now, over as
/// many calls as it takes, then the changes made since the snapshot began (some may
/// repeat what the snapshot already gave you: apply items as "replace", and repeats are
/// harmless).
///
/// **Then**: keep the `next_cursor` and call with `since=<it>`; while `has_more` is
/// `true`, call again at once. The cursor is opaque and only moves forward; with nothing
/// new it comes back unchanged. No change is ever skipped, even one whose transaction
/// commits after later ones: the feed holds back the changes of transactions still
/// running (briefly) rather than pass them by. A cursor this feed did not issue is
/// `400 invalid_cursor`: sync again from scratch.
#[utoipa::path(
    tag = "Sync",
    security(("bearer" = [])),
    params(SyncQuery),
    responses(
        (status = 200, description = "What changed, and where to continue", body = SyncPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/sync")]
pub async fn list_changes(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<SyncQuery>,
) -> ApiResult<web::Json<SyncPage>> {
    let query = query.into_inner();
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "limit",
                "out_of_range",
                format!("Between 1 and {MAX_LIMIT}."),
            ));
        }
    };
    let cursor = query
        .since
        .as_deref()
        .filter(|since| !since.is_empty())
        .map(cursor::decode)
        .transpose()?;
    // Conditional pledges settle when read; settle the caller's first (a write of its
    // own, logged like any other), so the feed shows what their `GET` would.
    let account = user.account_id.clone();
    if db::read(&state.pool, move |conn| {
        items::has_conditional_pledges(conn, &account)
    })
    .await?
    {
        let account = user.account_id.clone();
        db::write(&state.pool, move |conn| {
            items::settle_pledges_of(conn, &account)
        })
        .await?;
    }
    let page = db::read(&state.pool, move |conn| feed(conn, &user, cursor, limit)).await?;
    Ok(web::Json(page))
}

fn feed(
    conn: &mut DbConnection,
    user: &AuthUser,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<SyncPage> {
    let horizon = models::horizon(conn)?;
    match cursor {
        // The log position is taken before anything of the snapshot is read, so every
        // change the snapshot might miss lies after it.
        None => {
            let from = models::last_position(conn, horizon)?;
            snapshot(conn, user, from, 0, None, horizon, limit)
        }
        Some(Cursor::Snapshot { from, kind, after }) => {
            snapshot(conn, user, from, kind, after, horizon, limit)
        }
        Some(Cursor::Log(after)) => log(conn, user, after, horizon, limit),
    }
}

/// One page of the initial snapshot: the things of each kind the caller relates to now,
/// kind after kind, by id. Things they could not see (a group archived since they joined
/// it…) are left out: the app never had them.
fn snapshot(
    conn: &mut DbConnection,
    user: &AuthUser,
    from: Position,
    mut kind: usize,
    mut after: Option<String>,
    horizon: i64,
    limit: i64,
) -> ApiResult<SyncPage> {
    let mut items = Vec::new();
    let mut taken = 0;
    while let Some(&entity) = Entity::ALL.get(kind) {
        let room = limit - taken;
        let ids = models::snapshot_ids(conn, &user.account_id, entity, after.as_deref(), room + 1)?;
        let more = i64::try_from(ids.len()).unwrap_or(i64::MAX) > room;
        for id in ids.into_iter().take(usize::try_from(room).unwrap_or(0)) {
            taken += 1;
            after = Some(id.clone());
            let item = items::item(conn, user, entity, id)?;
            if !item.is_tombstone() {
                items.push(item);
            }
        }
        if more {
            let next = Cursor::Snapshot { from, kind, after };
            return Ok(page(items, &next, true));
        }
        kind += 1;
        after = None;
    }
    // The snapshot is done; the log continues from where it began.
    let has_more = models::scan_window(conn, from, horizon, 1)?.is_some();
    Ok(page(items, &Cursor::Log(from), has_more))
}

/// One page of the log after `after`: the changes that concern the caller, each thing
/// once (in its current state), ordered by its latest change.
fn log(
    conn: &mut DbConnection,
    user: &AuthUser,
    after: Position,
    horizon: i64,
    limit: i64,
) -> ApiResult<SyncPage> {
    let Some((end, budget_spent)) = models::scan_window(conn, after, horizon, SCAN_BUDGET)? else {
        return Ok(page(Vec::new(), &Cursor::Log(after), false));
    };
    let changes = models::changes_for(conn, &user.account_id, after, end)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut latest: HashMap<(Entity, String), Position> = HashMap::new();
    let (mut reached, mut has_more) = (end, budget_spent);
    let mut previous = after;
    for change in &changes {
        // A kind this version does not know (written by a newer node): skip it.
        if let Some(entity) = Entity::parse(&change.entity_type) {
            let key = (entity, change.entity_id.clone());
            if !latest.contains_key(&key) && latest.len() == limit {
                // The page is full: stop before the first row of one thing too many.
                reached = previous;
                has_more = true;
                break;
            }
            latest.insert(key, change.position());
        }
        previous = change.position();
    }
    let mut keys: Vec<((Entity, String), Position)> = latest.into_iter().collect();
    keys.sort_by_key(|(_, position)| *position);
    let items = keys
        .into_iter()
        .map(|((entity, id), _)| items::item(conn, user, entity, id))
        .collect::<ApiResult<Vec<SyncItem>>>()?;
    Ok(page(items, &Cursor::Log(reached), has_more))
}

fn page(items: Vec<SyncItem>, next: &Cursor, has_more: bool) -> SyncPage {
    SyncPage {
        items,
        next_cursor: cursor::encode(next),
        has_more,
    }
}
