//! Reading the change log: how far it is complete, the rows after a cursor that concern
//! one account, what an initial snapshot holds, and which issues left the public list.
//!
//! Why no change is skipped, even when writes commit out of order:
//!
//! - PostgreSQL: every row carries the id of the top-level transaction that wrote it
//!   (`txid`, assigned before the row exists). The feed delivers only rows of
//!   transactions older than every transaction of this database still running (the
//!   [`horizon`]), in `(txid, seq)` order. All of those have finished, and any
//!   transaction that commits later has an id at or above the horizon, so it lands after
//!   every cursor handed out so far. A long-running writer delays the feed; it never
//!   makes it skip.
//! - SQLite: one writer at a time, and `seq` is taken inside the write lock, so `seq`
//!   order is commit order and `txid` is always 0.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::Entity;
use super::cursor::Position;
use crate::db::DbConnection;
use crate::db::schema::{
    group_members, issue_follows, issue_supports, issues, notifications, pledges, sync_changes,
};
use crate::domain::MemberStatus;

/// The member statuses that tie an account to a group in its app: member, asked to
/// join, invited. (Removed and banned accounts get a tombstone.)
pub const GROUP_TIES: [MemberStatus; 3] = [
    MemberStatus::Active,
    MemberStatus::Pending,
    MemberStatus::Invited,
];

/// One row of the log, as the feed reads it.
#[derive(Debug, Clone, Queryable)]
pub struct Change {
    pub txid: i64,
    pub seq: i64,
    pub entity_type: String,
    pub entity_id: String,
}

impl Change {
    pub fn position(&self) -> Position {
        Position {
            txid: self.txid,
            seq: self.seq,
        }
    }
}

/// The exclusive upper bound on `txid` of the rows the feed may deliver now.
///
/// On PostgreSQL: the oldest transaction still running in a fresh snapshot, leaving out
/// those that belong to other databases of the cluster (their rows live elsewhere); with
/// none left, the snapshot's `xmax`. The other databases' transactions are listed
/// *before* the snapshot is taken, so one that starts in between is kept, and it is
/// younger than every change committed before this read began, so it delays nothing
/// already committed. Run it before reading rows: those later statements take newer
/// snapshots, in which every transaction below the bound has finished. On SQLite there is
/// no bound (`seq` is commit order).
pub fn horizon(conn: &mut DbConnection) -> QueryResult<i64> {
    use diesel::sql_types::Array;
    #[derive(QueryableByName)]
    struct Xids {
        #[diesel(sql_type = Array<BigInt>)]
        xids: Vec<i64>,
    }
    #[derive(QueryableByName)]
    struct Bound {
        #[diesel(sql_type = BigInt)]
        bound: i64,
    }
    match conn {
        DbConnection::Sqlite(_) => Ok(i64::MAX),
        DbConnection::Postgresql(pg) => {
            // The 32-bit ids of transactions running in other databases of the cluster.
            let elsewhere = diesel::sql_query(
                "SELECT coalesce(array_agg(backend_xid::text::bigint), '{}') AS xids \
                   FROM pg_stat_activity \
                  WHERE backend_xid IS NOT NULL \
                    AND datname IS DISTINCT FROM current_database()",
            )
            .get_result::<Xids>(pg)?
            .xids;
            let bound = diesel::sql_query(
                "SELECT coalesce(\
                    (SELECT min(x::text::bigint) \
                       FROM pg_snapshot_xip(pg_current_snapshot()) AS x \
                      WHERE (x::text::bigint % 4294967296) <> ALL($1)), \
                    pg_snapshot_xmax(pg_current_snapshot())::text::bigint) AS bound",
            )
            .bind::<Array<BigInt>, _>(elsewhere)
            .get_result::<Bound>(pg)?;
            Ok(bound.bound)
        }
    }
}

type Backend = <DbConnection as Connection>::Backend;
type BoxedLog<'a> = sync_changes::BoxedQuery<'a, Backend>;

/// The rows after `after` and below the horizon.
fn log_after(after: Position, horizon: i64) -> BoxedLog<'static> {
    // `txid >= a` leads, so both backends range over the (txid, seq) index.
    sync_changes::table
        .filter(sync_changes::txid.ge(after.txid))
        .filter(
            sync_changes::txid
                .gt(after.txid)
                .or(sync_changes::seq.gt(after.seq)),
        )
        .filter(sync_changes::txid.lt(horizon))
        .into_boxed()
}

/// The last position of the log below the horizon (`START` when it is empty).
pub fn last_position(conn: &mut DbConnection, horizon: i64) -> QueryResult<Position> {
    Ok(log_after(Position::START, horizon)
        .select((sync_changes::txid, sync_changes::seq))
        .order((sync_changes::txid.desc(), sync_changes::seq.desc()))
        .first::<(i64, i64)>(conn)
        .optional()?
        .map_or(Position::START, |(txid, seq)| Position { txid, seq }))
}

/// How far one request reads: the `budget`-th row after `after` (and `true`: the budget
/// is spent, there may be more), or the last row below the horizon (`false`), or `None`
/// when nothing is new.
pub fn scan_window(
    conn: &mut DbConnection,
    after: Position,
    horizon: i64,
    budget: i64,
) -> QueryResult<Option<(Position, bool)>> {
    let order = (sync_changes::txid.asc(), sync_changes::seq.asc());
    let nth: Option<(i64, i64)> = log_after(after, horizon)
        .select((sync_changes::txid, sync_changes::seq))
        .order(order)
        .offset(budget - 1)
        .first(conn)
        .optional()?;
    if let Some((txid, seq)) = nth {
        return Ok(Some((Position { txid, seq }, true)));
    }
    let last: Option<(i64, i64)> = log_after(after, horizon)
        .select((sync_changes::txid, sync_changes::seq))
        .order((sync_changes::txid.desc(), sync_changes::seq.desc()))
        .first(conn)
        .optional()?;
    Ok(last.map(|(txid, seq)| (Position { txid, seq }, false)))
}

/// The rows in `(after, end]` that concern `account_id`, in log order: those about their
/// own relation to something, and changes to things they relate to now (reported,
/// supported or followed issues; groups they are tied to; their pledges and the
/// opportunities those are for).
pub fn changes_for(
    conn: &mut DbConnection,
    account_id: &str,
    after: Position,
    end: Position,
) -> QueryResult<Vec<Change>> {
    let me = account_id.to_owned();
    let reported = issues::table
        .filter(issues::reporter_id.eq(me.clone()))
        .select(issues::id);
    let supported = issue_supports::table
        .filter(issue_supports::account_id.eq(me.clone()))
        .select(issue_supports::issue_id);
    let followed = issue_follows::table
        .filter(issue_follows::account_id.eq(me.clone()))
        .select(issue_follows::issue_id);
    let groups = group_members::table
        .filter(group_members::account_id.eq(me.clone()))
        .filter(group_members::status.eq_any(GROUP_TIES.map(MemberStatus::as_str)))
        .select(group_members::group_id);
    let own_pledges = pledges::table
        .filter(pledges::account_id.eq(me.clone()))
        .select(pledges::id);
    let pledged_to = pledges::table
        .filter(pledges::account_id.eq(me.clone()))
        .filter(pledges::opportunity_id.is_not_null())
        .select(pledges::opportunity_id.assume_not_null());
    let kind = sync_changes::entity_type;
    let id = sync_changes::entity_id;
    let relates = kind
        .eq(Entity::Issue.as_str())
        .and(
            id.eq_any(reported)
                .or(id.eq_any(supported))
                .or(id.eq_any(followed)),
        )
        .or(kind.eq(Entity::Group.as_str()).and(id.eq_any(groups)))
        .or(kind.eq(Entity::Pledge.as_str()).and(id.eq_any(own_pledges)))
        .or(kind
            .eq(Entity::Opportunity.as_str())
            .and(id.eq_any(pledged_to)));
    log_after(after, i64::MAX)
        .filter(sync_changes::txid.le(end.txid))
        .filter(
            sync_changes::txid
                .lt(end.txid)
                .or(sync_changes::seq.le(end.seq)),
        )
        .filter(
            sync_changes::account_id
                .eq(me)
                .or(sync_changes::account_id.is_null().and(relates)),
        )
        .select((
            sync_changes::txid,
            sync_changes::seq,
            sync_changes::entity_type,
            sync_changes::entity_id,
        ))
        .order((sync_changes::txid.asc(), sync_changes::seq.asc()))
        .load(conn)
}

/// Up to `limit` ids of one kind that `account_id` relates to now, after `after`, in id
/// order: one step of an initial snapshot. Hidden issues are left out here; the feed
/// drops the other things it may not show (`items::item`).
pub fn snapshot_ids(
    conn: &mut DbConnection,
    account_id: &str,
    entity: Entity,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let after = after.unwrap_or_default().to_owned();
    let me = account_id.to_owned();
    match entity {
        Entity::Account => Ok(if after.is_empty() { vec![me] } else { vec![] }),
        Entity::Group => group_members::table
            .filter(group_members::account_id.eq(me))
            .filter(group_members::status.eq_any(GROUP_TIES.map(MemberStatus::as_str)))
            .filter(group_members::group_id.gt(after))
            .select(group_members::group_id)
            .order(group_members::group_id.asc())
            .limit(limit)
            .load(conn),
        Entity::Issue => {
            let supported = issue_supports::table
                .filter(issue_supports::account_id.eq(me.clone()))
                .select(issue_supports::issue_id);
            let followed = issue_follows::table
                .filter(issue_follows::account_id.eq(me.clone()))
                .select(issue_follows::issue_id);
            issues::table
                .filter(
                    issues::reporter_id
                        .eq(me)
                        .or(issues::id.eq_any(supported).nullable())
                        .or(issues::id.eq_any(followed).nullable()),
                )
                .filter(issues::hidden_at.is_null())
                .filter(issues::id.gt(after))
                .select(issues::id)
                .order(issues::id.asc())
                .limit(limit)
                .load(conn)
        }
        Entity::Opportunity => pledges::table
            .filter(pledges::account_id.eq(me))
            .filter(pledges::opportunity_id.gt(after))
            .select(pledges::opportunity_id.assume_not_null())
            .distinct()
            .order(pledges::opportunity_id.assume_not_null().asc())
            .limit(limit)
            .load(conn),
        Entity::Pledge => pledges::table
            .filter(pledges::account_id.eq(me))
            .filter(pledges::id.gt(after))
            .select(pledges::id)
            .order(pledges::id.asc())
            .limit(limit)
            .load(conn),
        Entity::Notification => notifications::table
            .filter(notifications::account_id.eq(me))
            .filter(notifications::id.gt(after))
            .select(notifications::id)
            .order(notifications::id.asc())
            .limit(limit)
            .load(conn),
    }
}

/// Where the ids of issues that left the public list are read from, in the order of the
/// list they complete.
#[derive(Debug, Clone)]
pub enum GoneOrder {
    /// Newest first (by id), strictly before `before` when given.
    NewestFirst { before: Option<String> },
    /// By id, strictly after `after` when given.
    Ascending { after: Option<String> },
}

/// Up to `limit` issues that changed at or after `since` (by the change log) and are not
/// in the public list now: what `GET /issues?updated_since=…&include_deleted=true`
/// answers as tombstones.
pub fn gone_issues(
    conn: &mut DbConnection,
    since: chrono::NaiveDateTime,
    order: GoneOrder,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut query = sync_changes::table
        .filter(sync_changes::entity_type.eq(Entity::Issue.as_str()))
        .filter(sync_changes::account_id.is_null())
        .filter(sync_changes::created_at.ge(since))
        .filter(sql::<Bool>(crate::issues::models::NOT_LISTED_SQL))
        .select(sync_changes::entity_id)
        .distinct()
        .limit(limit)
        .into_boxed();
    query = match order {
        GoneOrder::NewestFirst { before } => {
            if let Some(before) = before {
                query = query.filter(sync_changes::entity_id.lt(before));
            }
            query.order(sync_changes::entity_id.desc())
        }
        GoneOrder::Ascending { after } => {
            if let Some(after) = after {
                query = query.filter(sync_changes::entity_id.gt(after));
            }
            query.order(sync_changes::entity_id.asc())
        }
    };
    query.load(conn)
}
