//! Webhook subscription and delivery rows, and the queries over them: the partner's own
//! subscriptions, the delivery log, queueing deliveries, and leasing due ones to a sender.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};

use crate::db::DbConnection;
use crate::db::schema::{partner_clients, webhook_deliveries, webhook_subscriptions};

/// The most subscriptions a client may have (deleted ones do not count).
pub const MAX_LIVE_SUBSCRIPTIONS: i64 = 20;
/// Deliveries that fail for good in a row before a subscription is disabled.
pub const FAILURES_BEFORE_DISABLE: i32 = 5;
/// How long a sender holds a delivery it leased; past that another sender may take it.
pub const LEASE: TimeDelta = TimeDelta::seconds(60);

/// Delivery statuses.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A webhook subscription. The secret signs deliveries, so it is kept as issued (never
/// serialised: views are built from the other fields).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub client_id: String,
    pub url: String,
    /// Event types and patterns, space-separated.
    pub events: String,
    #[diesel(deserialize_as = String)]
    pub secret: SecretString,
    pub description: Option<String>,
    pub consecutive_failures: i32,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub deleted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl SubscriptionRow {
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.events.split(' ').filter(|p| !p.is_empty())
    }
}

/// A subscription to insert.
#[derive(Debug)]
pub struct NewSubscription {
    pub id: String,
    pub client_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: SecretString,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn insert_subscription(conn: &mut DbConnection, new: &NewSubscription) -> QueryResult<()> {
    diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::id.eq(&new.id),
            webhook_subscriptions::client_id.eq(&new.client_id),
            webhook_subscriptions::url.eq(&new.url),
            webhook_subscriptions::events.eq(new.events.join(" ")),
            webhook_subscriptions::secret.eq(new.secret.expose_secret()),
            webhook_subscriptions::description.eq(&new.description),
            webhook_subscriptions::consecutive_failures.eq(0),
            webhook_subscriptions::created_at.eq(new.created_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Locks the client's row for the rest of the transaction (PostgreSQL; SQLite write
/// transactions are serialised already), so two concurrent registrations cannot both
/// pass the per-client limit.
pub fn lock_client(conn: &mut DbConnection, client_id: &str) -> QueryResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        partner_clients::table
            .find(client_id)
            .select(partner_clients::id)
            .for_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

/// The client's subscriptions that are not deleted.
pub fn count_live(conn: &mut DbConnection, client_id: &str) -> QueryResult<i64> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::client_id.eq(client_id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .count()
        .get_result(conn)
}

/// One of the client's own subscriptions; `NotFound` for another client's or a deleted
/// one.
pub fn find_own(
    conn: &mut DbConnection,
    client_id: &str,
    id: &str,
) -> QueryResult<SubscriptionRow> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq(id))
        .filter(webhook_subscriptions::client_id.eq(client_id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select(SubscriptionRow::as_select())
        .first(conn)
}

/// The client's subscriptions, oldest first, after the id `after`.
pub fn list_own(
    conn: &mut DbConnection,
    client_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<SubscriptionRow>> {
    let mut query = webhook_subscriptions::table
        .filter(webhook_subscriptions::client_id.eq(client_id))
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select(SubscriptionRow::as_select())
        .order(webhook_subscriptions::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(webhook_subscriptions::id.gt(after.to_owned()));
    }
    query.load(conn)
}

/// Deletes one of the client's subscriptions (it stays in the table for the record) and
/// gives up its pending deliveries.
pub fn delete_own(
    conn: &mut DbConnection,
    client_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let changed = diesel::update(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::id.eq(id))
            .filter(webhook_subscriptions::client_id.eq(client_id))
            .filter(webhook_subscriptions::deleted_at.is_null()),
    )
    .set(webhook_subscriptions::deleted_at.eq(now))
    .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    fail_pending(conn, id, "The subscription was deleted.", now)
}

/// A subscription whoever owns it, deleted or not; `None` if there is none.
pub fn find_any_subscription(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<SubscriptionRow>> {
    webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

/// Disables a subscription (if it is not already) and gives up its pending deliveries;
/// `true` when this call disabled it.
pub fn disable(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::id.eq(id))
            .filter(webhook_subscriptions::disabled_at.is_null()),
    )
    .set((
        webhook_subscriptions::disabled_at.eq(now),
        webhook_subscriptions::disabled_reason.eq(reason),
    ))
    .execute(conn)?;
    fail_pending(conn, id, "The subscription is disabled.", now)?;
    if changed > 0 {
        // The partner hears of it on its other subscriptions (`webhook.disabled`).
        crate::db::outbox::record(
            conn,
            "webhook.disabled",
            ("webhook", id),
            serde_json::json!({ "reason": reason }),
            now,
        )?;
    }
    Ok(changed > 0)
}

fn fail_pending(
    conn: &mut DbConnection,
    subscription_id: &str,
    why: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::subscription_id.eq(subscription_id))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set((
        webhook_deliveries::status.eq(FAILED),
        webhook_deliveries::last_error.eq(why),
        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_attempt_at.eq(now),
    ))
    .execute(conn)
    .map(|_| ())
}

/// An active subscription of an active client, as the fan-out needs it.
#[derive(Debug, Clone, Queryable)]
pub struct Target {
    pub subscription_id: String,
    pub client_id: String,
    pub events: String,
    /// The client's granted scopes, space-separated.
    pub client_scopes: String,
}

impl Target {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events
            .split(' ')
            .filter(|p| !p.is_empty())
            .any(|pattern| crate::events::matches(pattern, event_type))
    }

    pub fn has_scope(&self, scope: crate::partners::Scope) -> bool {
        self.client_scopes.split(' ').any(|s| s == scope.as_str())
    }
}

/// Every subscription that may receive deliveries: neither disabled nor deleted, of a
/// client that is not disabled.
pub fn active_targets(conn: &mut DbConnection) -> QueryResult<Vec<Target>> {
    webhook_subscriptions::table
        .inner_join(partner_clients::table)
        .filter(webhook_subscriptions::disabled_at.is_null())
        .filter(webhook_subscriptions::deleted_at.is_null())
        .filter(partner_clients::disabled_at.is_null())
        .select((
            webhook_subscriptions::id,
            webhook_subscriptions::client_id,
            webhook_subscriptions::events,
            partner_clients::scopes,
        ))
        .load(conn)
}

/// Queues a delivery of event `event_id` to a subscription, once: a second call for the
/// same pair does nothing.
pub fn queue_delivery(
    conn: &mut DbConnection,
    subscription_id: &str,
    event_id: &str,
    event_type: &str,
    payload: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let insert = diesel::insert_into(webhook_deliveries::table).values((
        webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
        webhook_deliveries::subscription_id.eq(subscription_id),
        webhook_deliveries::event_id.eq(event_id),
        webhook_deliveries::event_type.eq(event_type),
        webhook_deliveries::payload.eq(payload),
        webhook_deliveries::status.eq(PENDING),
        webhook_deliveries::attempts.eq(0),
        webhook_deliveries::next_attempt_at.eq(now),
        webhook_deliveries::created_at.eq(now),
    ));
    // Upserts are not in the shared subset of the two backends.
    match conn {
        DbConnection::Postgresql(pg) => insert.on_conflict_do_nothing().execute(pg),
        DbConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite),
    }
    .map(|_| ())
}

/// A delivery in the log (without its payload).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A subscription's deliveries, newest first, before the id `before`.
pub fn list_deliveries(
    conn: &mut DbConnection,
    subscription_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before.to_owned()));
    }
    query.load(conn)
}

/// A delivery leased to this sender, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: String,
    pub subscription_id: String,
    pub event_type: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub url: String,
    pub secret: SecretString,
    /// The lease: the sender records its attempt only while the delivery still carries it.
    pub locked_until: NaiveDateTime,
}

/// Whether any delivery is due and not leased by a live sender.
pub fn any_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::next_attempt_at.le(now))
            .filter(
                webhook_deliveries::locked_until
                    .is_null()
                    .or(webhook_deliveries::locked_until.le(now)),
            ),
    ))
    .get_result(conn)
}

/// A leased delivery and the state of its subscription, as read back after the lease.
#[derive(Queryable)]
struct LeaseRow {
    id: String,
    subscription_id: String,
    event_type: String,
    payload: String,
    attempts: i32,
    url: String,
    secret: String,
    disabled_at: Option<NaiveDateTime>,
    deleted_at: Option<NaiveDateTime>,
    client_disabled_at: Option<NaiveDateTime>,
}

/// Leases up to `limit` due deliveries (pending, due, not leased by a live sender) until
/// `now + LEASE`. On PostgreSQL the candidates are chosen `FOR UPDATE SKIP LOCKED`, so
/// senders in other nodes pass over them; on SQLite the write transaction is exclusive
/// and the update is conditional anyway. Call it in a write transaction.
pub fn lease_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Leased>> {
    let due = || {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::next_attempt_at.le(now))
            .filter(
                webhook_deliveries::locked_until
                    .is_null()
                    .or(webhook_deliveries::locked_until.le(now)),
            )
            .order(webhook_deliveries::next_attempt_at.asc())
            .limit(limit)
            .select(webhook_deliveries::id)
    };
    let ids: Vec<String> = match conn {
        DbConnection::Postgresql(pg) => due().for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due().load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let until = now + LEASE;
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq_any(&ids))
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(
                webhook_deliveries::locked_until
                    .is_null()
                    .or(webhook_deliveries::locked_until.le(now)),
            ),
    )
    .set(webhook_deliveries::locked_until.eq(until))
    .execute(conn)?;
    let rows: Vec<LeaseRow> = webhook_deliveries::table
        .inner_join(webhook_subscriptions::table.inner_join(partner_clients::table))
        .filter(webhook_deliveries::id.eq_any(&ids))
        .filter(webhook_deliveries::locked_until.eq(until))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::subscription_id,
            webhook_deliveries::event_type,
            webhook_deliveries::payload,
            webhook_deliveries::attempts,
            webhook_subscriptions::url,
            webhook_subscriptions::secret,
            webhook_subscriptions::disabled_at,
            webhook_subscriptions::deleted_at,
            partner_clients::disabled_at,
        ))
        .load(conn)?;
    let mut leased = Vec::with_capacity(rows.len());
    for row in rows {
        if row.disabled_at.is_some() || row.deleted_at.is_some() {
            // Disabling or deleting gives up pending deliveries; one queued in between
            // is given up here.
            fail_pending(
                conn,
                &row.subscription_id,
                "The subscription is disabled.",
                now,
            )?;
            continue;
        }
        if row.client_disabled_at.is_some() {
            fail_pending(conn, &row.subscription_id, "The client is disabled.", now)?;
            continue;
        }
        leased.push(Leased {
            id: row.id,
            subscription_id: row.subscription_id,
            event_type: row.event_type,
            payload: row.payload,
            attempts: row.attempts,
            url: row.url,
            secret: SecretString::from(row.secret),
            locked_until: until,
        });
    }
    Ok(leased)
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<i32>,
    pub latency_ms: Option<i32>,
    /// A short description of what went wrong, never the secret or the payload.
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// 410 Gone: the receiver wants no more; the subscription is disabled.
    Gone,
    /// Try again at this time.
    Retry(NaiveDateTime),
    /// The last attempt failed.
    GaveUp,
}

/// What recording an attempt did to the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The lease had run out and another sender has the delivery: nothing was recorded.
    LeaseLost,
    Recorded,
    /// The subscription was disabled, for this reason.
    Disabled(String),
}

/// Records an attempt on a leased delivery and its effect on the subscription. Call it in
/// a write transaction.
pub fn record_attempt(
    conn: &mut DbConnection,
    delivery: &Leased,
    attempt: &Attempt,
    outcome: Outcome,
) -> QueryResult<Recorded> {
    let (status, next_attempt_at, delivered_at) = match outcome {
        Outcome::Delivered => (DELIVERED, attempt.at, Some(attempt.at)),
        Outcome::Gone | Outcome::GaveUp => (FAILED, attempt.at, None),
        Outcome::Retry(at) => (PENDING, at, None),
    };
    let changed = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(&delivery.id))
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::locked_until.eq(delivery.locked_until)),
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(delivery.attempts + 1),
        webhook_deliveries::next_attempt_at.eq(next_attempt_at),
        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_status_code.eq(attempt.status_code),
        webhook_deliveries::last_error.eq(&attempt.error),
        webhook_deliveries::last_latency_ms.eq(attempt.latency_ms),
        webhook_deliveries::last_attempt_at.eq(attempt.at),
        webhook_deliveries::delivered_at.eq(delivered_at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(Recorded::LeaseLost);
    }
    let subscription = webhook_subscriptions::table.find(&delivery.subscription_id);
    match outcome {
        Outcome::Retry(_) => Ok(Recorded::Recorded),
        Outcome::Delivered => {
            diesel::update(subscription)
                .set(webhook_subscriptions::consecutive_failures.eq(0))
                .execute(conn)?;
            Ok(Recorded::Recorded)
        }
        Outcome::Gone => {
            let reason = "The endpoint answered 410 Gone.";
            let disabled = disable(conn, &delivery.subscription_id, reason, attempt.at)?;
            Ok(if disabled {
                Recorded::Disabled(reason.to_owned())
            } else {
                Recorded::Recorded
            })
        }
        Outcome::GaveUp => {
            diesel::update(subscription)
                .set(
                    webhook_subscriptions::consecutive_failures
                        .eq(webhook_subscriptions::consecutive_failures + 1),
                )
                .execute(conn)?;
            let failures: i32 = subscription
                .select(webhook_subscriptions::consecutive_failures)
                .first(conn)?;
            if failures < FAILURES_BEFORE_DISABLE {
                return Ok(Recorded::Recorded);
            }
            let reason = format!(
                "{failures} deliveries in a row failed after every retry; fix the endpoint and \
                 register it again."
            );
            let disabled = disable(conn, &delivery.subscription_id, &reason, attempt.at)?;
            Ok(if disabled {
                Recorded::Disabled(reason)
            } else {
                Recorded::Recorded
            })
        }
    }
}
