//! Issue rows and the queries over them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::extractors::{SessionCheck, session_columns};
use crate::db::schema::{issue_supports, issues, sessions};
use crate::db::{DbConnection, KeepPrepared, PreparedAs, on_backend};

/// An issue row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issues)]
pub struct IssueRow {
    pub id: String,
    pub category_code: String,
    pub title: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
    /// The answers to the category's questions, a JSON object keyed by question code.
    pub answers: String,
    pub status: String,
    pub reporter_id: Option<String>,
    pub anonymous: bool,
    pub duplicate_of: Option<String>,
    pub support_count: i32,
    pub follower_count: i32,
    pub photo_count: i32,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The community group that took the issue on, if any.
    pub adopted_by_group_id: Option<String>,
    /// The partner client that made the report (Open311 or the REST API), if any.
    pub partner_client_id: Option<String>,
    /// Contact details an Open311 client sent for the reporter, as JSON; staff only.
    pub reporter_contact: Option<String>,
    /// A photo an Open311 client hosts elsewhere.
    pub media_url: Option<String>,
    /// The token an Open311 POST answered with.
    pub open311_token: Option<String>,
    /// When moderators took it out of public view; `None` while it is shown. A hidden
    /// issue is in no list, and only staff may read or change it.
    pub hidden_at: Option<NaiveDateTime>,
}

impl IssueRow {
    /// Whether moderators took it out of public view.
    pub fn is_hidden(&self) -> bool {
        self.hidden_at.is_some()
    }
}

/// One issue, hidden or not; `NotFound` (404) if there is none. Routes that show or
/// change an issue check `hidden_at` against the caller (see
/// `issues::routes::visible_issue`).
pub fn find_issue(conn: &mut DbConnection, id: &str) -> QueryResult<IssueRow> {
    on_backend!(conn, |c| issues::table
        .find(id)
        .select(IssueRow::as_select())
        .first(c))
}

/// An issue with what its detail shows beside the row, read in one statement: the
/// name of its category, its reporter's display name, and whether the viewer supports
/// and follows it.
#[derive(Debug, Queryable)]
pub struct IssueInDetail {
    pub row: IssueRow,
    /// `None` only if the category is gone.
    pub category_name: Option<String>,
    /// `None` when nobody signed in reported it, or the account is gone.
    pub reporter_name: Option<String>,
    /// Whether the viewer supports it, and whether they follow it.
    pub bonds: (bool, bool),
}

/// One issue, hidden or not, as [`find_issue`], with the names and bonds its detail
/// shows, the bonds those of `account` (both `false` for `None`). Where looking them up
/// one by one took five statements, this is one: on PostgreSQL that is one round trip
/// instead of five.
pub fn find_issue_in_detail(
    conn: &mut DbConnection,
    id: &str,
    account: Option<&str>,
) -> QueryResult<IssueInDetail> {
    use crate::db::schema::categories;
    // No account has an empty id, so neither bond exists for a caller not signed in.
    let account = account.unwrap_or_default();
    on_backend!(conn, |c| issues::table
        .left_join(categories::table)
        .left_join(accounts::table.on(accounts::id.nullable().eq(issues::reporter_id)))
        .filter(issues::id.eq(id))
        .select((
            IssueRow::as_select(),
            categories::name.nullable(),
            accounts::display_name.nullable(),
            bonds(id, account),
        ))
        .first(c))
}

/// Session `session` joined to its account, with issue `id` where there is one: what a
/// statement that checks the session beside the issue starts from. `id` is owned,
/// since diesel needs a join's `ON` clause to be `'static`.
#[diesel::dsl::auto_type]
fn session_and_issue<'a>(session: &'a str, id: String) -> _ {
    sessions::table
        .inner_join(accounts::table)
        .left_join(issues::table.on(issues::id.eq(id)))
        .filter(sessions::id.eq(session))
}

diesel::alias!(accounts as reporters: Reporters);

/// [`find_issue_in_detail`] for a signed-in caller, in one statement with the check of
/// their session (see [`crate::auth::SessionToCheck`]), the bonds those of `account`:
/// `None` when there is no such session; otherwise the session's check, and the issue
/// unless there is none. On PostgreSQL that is one round trip where there were two.
pub fn find_issue_in_detail_for_session(
    conn: &mut DbConnection,
    id: &str,
    session: &str,
    account: &str,
) -> QueryResult<Option<(SessionCheck, Option<IssueInDetail>)>> {
    use crate::db::schema::categories;
    let found: Option<(_, Option<IssueRow>, _, _, _)> =
        on_backend!(conn, |c| session_and_issue(session, id.to_owned())
            .left_join(categories::table.on(categories::code.eq(issues::category_code)))
            .left_join(
                reporters.on(reporters
                    .field(accounts::id)
                    .nullable()
                    .eq(issues::reporter_id)),
            )
            .select((
                session_columns(),
                Option::<IssueRow>::as_select(),
                categories::name.nullable(),
                reporters.field(accounts::display_name).nullable(),
                bonds(id, account),
            ))
            .first(c)
            .optional())?;
    Ok(
        found.map(|(check, row, category_name, reporter_name, bonds)| {
            let issue = row.map(|row| IssueInDetail {
                row,
                category_name,
                reporter_name,
                bonds,
            });
            (check, issue)
        }),
    )
}

/// The check of a session (see [`crate::auth::SessionToCheck`]) and issue `id`, in one
/// statement, for a change the session's account makes to the issue: `None` when there
/// is no such session; otherwise its check, and the issue unless there is none.
pub fn find_issue_for_session(
    conn: &mut DbConnection,
    id: &str,
    session: &str,
) -> QueryResult<Option<(SessionCheck, Option<IssueRow>)>> {
    on_backend!(conn, |c| session_and_issue(session, id.to_owned())
        .select((session_columns(), Option::<IssueRow>::as_select()))
        .first(c)
        .optional())
}

/// One issue the public may see; `NotFound` for a hidden one too.
pub fn find_shown_issue(conn: &mut DbConnection, id: &str) -> QueryResult<IssueRow> {
    issues::table
        .find(id)
        .filter(issues::hidden_at.is_null())
        .select(IssueRow::as_select())
        .first(conn)
}

/// Whether an account says "me too" to an issue.
pub fn is_supporter(
    conn: &mut DbConnection,
    issue_id: &str,
    account_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        issue_supports::table
            .filter(issue_supports::issue_id.eq(issue_id))
            .filter(issue_supports::account_id.eq(account_id)),
    ))
    .get_result(conn)
}

use super::lifecycle::Status;
use super::timeline::{EventKind, EventRow};
use crate::db::schema::{accounts, issue_events, issue_follows};

pub fn insert_issue(conn: &mut DbConnection, issue: &IssueRow) -> QueryResult<()> {
    on_backend!(conn, |c| diesel::insert_into(issues::table)
        .values(issue)
        .execute(c))
    .map(|_| ())
}

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Metres per degree of latitude (and of longitude at the equator).
pub(crate) const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// The great-circle distance between two points, in metres (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A distance as the API shows it: metres to one decimal.
pub fn shown_metres(distance: f64) -> f64 {
    (distance * 10.0).round() / 10.0
}

/// A circle on the map, and the box around it that the index can range over.
#[derive(Debug, Clone, Copy)]
pub struct Circle {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

impl Circle {
    /// `cos(lat)`: how much a degree of longitude shrinks here (kept away from zero near
    /// the poles).
    pub(crate) fn lon_scale(&self) -> f64 {
        self.lat.to_radians().cos().max(0.01)
    }

    /// `(c0, slope)` of `squared_distance!` around this centre: a degree of longitude is
    /// `c0 + slope × (lat − centre's lat)` degrees of latitude long.
    fn longitude_terms(&self) -> (f64, f64) {
        let s0 = self.lat.to_radians().sin();
        (self.lon_scale(), -s0 * std::f64::consts::PI / 360.0)
    }

    /// The radius in the units of `squared_distance!`, a hair wider so that a point on
    /// the circle stays in.
    pub(crate) fn squared_radius(&self) -> f64 {
        (self.radius_m / METRES_PER_DEGREE).powi(2) * 1.000_001
    }

    /// (min_lat, max_lat, min_lon, max_lon) of the box around the circle, clamped to the
    /// map (no wrapping across the antimeridian).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        // A hair wider than the circle: north of the centre a degree of longitude is
        // shorter, so the circle bulges past `radius / cos(lat)` by a few parts per million.
        let dlat = self.radius_m / METRES_PER_DEGREE * 1.001;
        let dlon = dlat / self.lon_scale();
        (
            (self.lat - dlat).max(-90.0),
            (self.lat + dlat).min(90.0),
            (self.lon - dlon).max(-180.0),
            (self.lon + dlon).min(180.0),
        )
    }

    /// [`Circle::bounds`] as a box.
    pub fn bounding_box(&self) -> BoundingBox {
        let (min_lat, max_lat, min_lon, max_lon) = self.bounds();
        BoundingBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        }
    }
}

/// Holds for the issues whose position may be inside a box, as the spatial index finds
/// them: the `issue_positions` R*Tree on SQLite, the GiST index on `point(lon, lat)` on
/// PostgreSQL. The (lat, lon) B-tree narrows by latitude only, so a search through it
/// reads every issue in its band of latitude, around the map; these read the box alone.
/// The R*Tree keeps single-precision bounds rounded outwards, so near an edge this may
/// hold for a point a hair outside: the exact test stays with the caller.
///
/// On SQLite the entry must also lie in `ring`, so that only the rows that can be on the
/// page are read: the tree alone tests it, from the middle of the entry's bounds.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct PositionIn {
    bbox: BoundingBox,
    ring: Ring,
}

impl diesel::Expression for PositionIn {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::AppearsOnTable<issues::table> for PositionIn {}

impl<GroupBy> diesel::expression::ValidGrouping<GroupBy> for PositionIn {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl PositionIn {
    /// Writes `sql[0] values[0] sql[1] … values[3] sql[4]`, each value bound as a double.
    fn walk_binds<'b, DB>(
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
        sql: [&'static str; 5],
        values: [&'b f64; 4],
    ) -> QueryResult<()>
    where
        DB: diesel::backend::Backend,
        f64: diesel::serialize::ToSql<diesel::sql_types::Double, DB>,
    {
        for (text, value) in sql.iter().zip(values) {
            out.push_sql(text);
            out.push_bind_param::<diesel::sql_types::Double, _>(value)?;
        }
        out.push_sql(sql[4]);
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for PositionIn {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        // Keyed by the issue's rowid (see the migration that made the tree). A point's
        // entry overlaps the box when the point lies in it, or (rounded outwards to
        // single precision) a hair outside.
        out.push_sql("issues.rowid IN (SELECT id ");
        walk_tree_entries(&self.bbox, out.reborrow())?;
        out.push_sql(" AND ");
        self.ring.walk_midpoint_distance(out.reborrow())?;
        self.ring.walk_bounds(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// Writes `FROM issue_positions WHERE` the entry overlaps `bbox` (SQLite's R*Tree).
fn walk_tree_entries<'b>(
    bbox: &'b BoundingBox,
    out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
) -> QueryResult<()> {
    PositionIn::walk_binds(
        out,
        [
            "FROM issue_positions WHERE max_lat >= ",
            " AND min_lat <= ",
            " AND max_lon >= ",
            " AND min_lon <= ",
            "",
        ],
        [&bbox.min_lat, &bbox.max_lat, &bbox.min_lon, &bbox.max_lon],
    )
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PositionIn {
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        // The expression of the index `issues_position`, word for word. The ring is the
        // tree's: the exact distance below reads the position from the row.
        Self::walk_binds(
            out,
            [
                "point(issues.lon, issues.lat) <@ box(point(",
                ", ",
                "), point(",
                ", ",
                "))",
            ],
            [
                &self.bbox.min_lon,
                &self.bbox.min_lat,
                &self.bbox.max_lon,
                &self.bbox.max_lat,
            ],
        )
    }
}

type Backend = <DbConnection as diesel::Connection>::Backend;

/// The fragment of `$fragment` for the `MultiConnection`'s backend: whichever backend the
/// connection is, the fragment that backend writes.
macro_rules! written_per_backend {
    ($fragment:ty) => {
        impl diesel::query_builder::QueryFragment<Backend> for $fragment {
            fn walk_ast<'b>(
                &'b self,
                pass: diesel::query_builder::AstPass<'_, 'b, Backend>,
            ) -> QueryResult<()> {
                Backend::walk_variant_ast(self, pass)
            }
        }
    };
}

written_per_backend!(PositionIn);

/// The key by which every index of `issues` refers to its row: `rowid` on SQLite, `id`
/// (the primary key) on PostgreSQL. A search whose terms an index answers alone selects
/// this key, which SQLite keeps in each index entry, where `id` would have it read the
/// table. Typed as text, but only ever compared with itself ([`KeyIn`]) or, on SQLite,
/// with the rowids of tree entries ([`near_page_of_entries`]), never loaded: SQLite's rowid is
/// an integer.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct IndexKey;

impl diesel::Expression for IndexKey {
    type SqlType = diesel::sql_types::Text;
}

impl diesel::AppearsOnTable<issues::table> for IndexKey {}

impl diesel::SelectableExpression<issues::table> for IndexKey {}

impl<GroupBy> diesel::expression::ValidGrouping<GroupBy> for IndexKey {
    type IsAggregate = diesel::expression::is_aggregate::No;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for IndexKey {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("issues.rowid");
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for IndexKey {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("issues.id");
        Ok(())
    }
}

/// `key IN (subquery)` for a subquery over `issues` that selects [`IndexKey`]. diesel
/// asks for an alias when a subquery reads the table of the query around it; this one
/// refers to nothing outside itself, so its own `issues` is the one its columns name.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct KeyIn<Q>(Q);

impl<Q> diesel::Expression for KeyIn<Q> {
    type SqlType = diesel::sql_types::Bool;
}

impl<Q> diesel::AppearsOnTable<issues::table> for KeyIn<Q> {}

impl<Q, GroupBy> diesel::expression::ValidGrouping<GroupBy> for KeyIn<Q> {
    type IsAggregate = diesel::expression::is_aggregate::No;
}

impl<DB, Q> diesel::query_builder::QueryFragment<DB> for KeyIn<Q>
where
    DB: diesel::backend::Backend,
    IndexKey: diesel::query_builder::QueryFragment<DB>,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        IndexKey.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// A bounding box: min_lon, min_lat, max_lon, max_lat.
#[derive(Debug, Clone, Copy)]
pub struct BoundingBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BoundingBox {
    /// Whether `other` lies inside this box, edges included.
    fn holds(&self, other: &BoundingBox) -> bool {
        self.min_lon <= other.min_lon
            && self.min_lat <= other.min_lat
            && other.max_lon <= self.max_lon
            && other.max_lat <= self.max_lat
    }
}

/// Where to look.
#[derive(Debug, Clone, Copy)]
pub enum Area {
    Near(Circle),
    Within(BoundingBox),
    Anywhere,
}

/// The filters of a search.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub categories: Vec<String>,
    pub statuses: Vec<String>,
    /// Lower-cased text to find in title or description.
    pub text: Option<String>,
    pub reported_by: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum IssueCursor {
    /// Near searches: by distance (in the query's squared-degree units), then id.
    Distance { d: f64, id: String },
    /// Everything else: newest first, by id (UUIDv7, so by creation time).
    Newest { before: String },
}

use crate::db::lower;

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as escape character.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

type IssuePredicate =
    Box<dyn BoxableExpression<issues::table, Backend, SqlType = diesel::sql_types::Bool>>;

/// A column equal to one of `values` (`None` for none), as the `=` terms `equals` makes
/// joined by `OR`, not `IN (…)`: diesel never keeps a statement with an `IN` list
/// prepared, so a `GET /issues` filtered by category or status would be parsed and
/// planned anew on every request. SQLite reads such a chain on one column as the `IN` it
/// stands for. A list holds at most `MAX_LIST_VALUES`, so the statements kept stay few.
fn one_of(values: &[String], equals: impl Fn(String) -> IssuePredicate) -> Option<IssuePredicate> {
    values
        .iter()
        .map(|value| equals(value.clone()))
        .reduce(|any, next| Box::new(any.or(next)))
}

/// The squared distance of an issue from the centre of `$circle`, in degrees of latitude
/// squared: equirectangular, with a degree of longitude scaled by the cosine of the
/// mid-latitude between the row and the centre (linearised: cos(m) ≈ cos(φ₀) −
/// sin(φ₀)·(φ − φ₀)/2, in radians). Plain arithmetic, the same on both backends, and
/// within a few parts per million of the true distance at the scale of a search
/// (≤ 50 km), so ordering and the radius cut ([`Circle::squared_radius`]) agree with the
/// haversine distance. A macro: the expression's type is diesel's to spell.
macro_rules! squared_distance {
    ($circle:expr) => {{
        let circle: Circle = $circle;
        let (c0, slope) = circle.longitude_terms();
        let dlat = issues::lat - circle.lat;
        let dlon = (issues::lon - circle.lon) * ((issues::lat - circle.lat) * slope + c0);
        dlat * dlat + dlon * dlon
    }};
}

/// How far the middle of an issue's entry in SQLite's R*Tree may lie from the issue, in
/// degrees. The tree keeps each coordinate as single-precision bounds rounded outwards,
/// whose middle is within one single-precision step of it (at most 1.5e-5° for a
/// longitude past 128°, 7.6e-6° for a latitude), so a distance measured from the middle
/// is within about 2.2e-5° of the issue's own. This is more than twice that.
const TREE_SLACK: f64 = 5e-5;

/// The distances from a near search's centre (squared, in the units of
/// `squared_distance!` measured from the middle of a tree entry) between which every issue
/// the page can show lies: out to the radius, from where the previous page ended, each
/// widened by [`TREE_SLACK`].
#[derive(Debug, Clone, Copy)]
struct Ring {
    lat: f64,
    lon: f64,
    /// `circle.longitude_terms()`.
    c0: f64,
    slope: f64,
    from: f64,
    to: f64,
    /// Beyond this (squared), an entry lies past the cursor for certain: by more than the
    /// slack. `-1` without a cursor.
    past: f64,
}

impl Ring {
    fn around(circle: Circle, cursor: Option<&IssueCursor>) -> Ring {
        let (inner, past) = match cursor {
            Some(IssueCursor::Distance { d, .. }) if *d >= 0.0 => {
                (d.sqrt() - TREE_SLACK, (d.sqrt() + TREE_SLACK).powi(2))
            }
            _ => (0.0, -1.0),
        };
        let (c0, slope) = circle.longitude_terms();
        Ring {
            lat: circle.lat,
            lon: circle.lon,
            c0,
            slope,
            from: if inner > 0.0 { inner * inner } else { -1.0 },
            to: (circle.squared_radius().sqrt() + TREE_SLACK).powi(2),
            past,
        }
    }

    /// Writes ` BETWEEN from AND to`: a distance within this ring.
    fn walk_bounds<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql(" BETWEEN ");
        out.push_bind_param::<diesel::sql_types::Double, _>(&self.from)?;
        out.push_sql(" AND ");
        out.push_bind_param::<diesel::sql_types::Double, _>(&self.to)
    }

    /// Writes `squared_distance!` of the middle of an `issue_positions` entry:
    /// `dlat·dlat + (dlon·(dlat·slope + c0))²`, each factor written out.
    fn walk_midpoint_distance<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        let terms: [(&str, &'b f64); 10] = [
            ("(((min_lat + max_lat) * 0.5 - ", &self.lat),
            (") * ((min_lat + max_lat) * 0.5 - ", &self.lat),
            (") + (((min_lon + max_lon) * 0.5 - ", &self.lon),
            (") * (((min_lat + max_lat) * 0.5 - ", &self.lat),
            (") * ", &self.slope),
            (" + ", &self.c0),
            (")) * (((min_lon + max_lon) * 0.5 - ", &self.lon),
            (") * (((min_lat + max_lat) * 0.5 - ", &self.lat),
            (") * ", &self.slope),
            (" + ", &self.c0),
        ];
        for (sql, value) in terms {
            out.push_sql(sql);
            out.push_bind_param::<diesel::sql_types::Double, _>(value)?;
        }
        out.push_sql(")))");
        Ok(())
    }
}

/// Which rows can be on a near search's page, as [`Ring::to_nearest`] found them.
enum Reach {
    /// Any in the ring: the search reads them all.
    Whole,
    /// Those whose entries lie in this narrower ring, inside this box.
    Within(Ring, BoundingBox),
    /// SQLite: those of these tree entries (by rowid). `all` when they are every entry of
    /// the ring; otherwise every entry within reach of the page's last issue.
    Entries { rowids: Vec<i64>, all: bool },
}

impl Ring {
    /// Where the first `limit` issues past this ring's cursor can be, from the spatial
    /// index alone.
    ///
    /// If the `limit`th nearest of some entries that lie past the cursor for certain (by
    /// more than the slack) is `d` away, so is at most the `limit`th of all of them, so
    /// the first `limit` issues past the cursor are all within `d` plus the slack, and
    /// their entries within `d` plus twice the slack. Unless a hidden issue was among
    /// those entries (SQLite's tree holds them; PostgreSQL's steps leave them out): then
    /// the rows read fall short, and the caller reads the whole ring.
    /// The tree is asked in circles four times wider each time, from the smallest of at
    /// least [`FIRST_STEP_M`]: a dense map holds the page in a small part of a wide circle.
    fn to_nearest(self, conn: &mut DbConnection, circle: Circle, limit: i64) -> QueryResult<Reach> {
        let mut radii = vec![circle.radius_m];
        while let Some(smaller) = radii.last().map(|r| r / 4.0).filter(|r| *r >= FIRST_STEP_M) {
            radii.push(smaller);
        }
        radii.reverse();
        let offset = (limit - 1).max(0);
        let nth = match conn {
            DbConnection::Sqlite(c) => return self.entries_to_nearest(c, circle, &radii, offset),
            // One round trip: PostgreSQL runs a step only if the smaller ones found nothing.
            // As many texts as there can be steps: few enough to keep prepared.
            DbConnection::Postgresql(c) => {
                let steps = radii.iter().map(|&radius_m| NthInRing {
                    circle,
                    bbox: Circle { radius_m, ..circle }.bounding_box(),
                    ring: self,
                    offset,
                });
                KeepPrepared(FirstOf(steps.map(NthInRing::on_postgres).collect()))
                    .get_result::<Option<f64>>(c)?
            }
        };
        Ok(match nth.and_then(|d| self.cut_at(circle, d)) {
            Some((ring, bbox)) => Reach::Within(ring, bbox),
            None => Reach::Whole,
        })
    }

    /// This ring cut down to the entries within reach of an issue whose entry lies `d`
    /// away (squared), with the box that holds them; `None` when that cuts nothing.
    fn cut_at(self, circle: Circle, d: f64) -> Option<(Ring, BoundingBox)> {
        let to = (d.sqrt() + 2.0 * TREE_SLACK).powi(2);
        if to >= self.to {
            return None;
        }
        let reach = Circle {
            radius_m: to.sqrt() * METRES_PER_DEGREE,
            ..circle
        };
        Some((Ring { to, ..self }, reach.bounding_box()))
    }

    /// [`Ring::to_nearest`] on SQLite, in process, so a step the search does not need
    /// costs nothing: one step at a time, each reading its entries (rowid and distance)
    /// rather than only the `offset + 1`th past the cursor. The step that finds it then
    /// names the rows to read, and the search reads them by rowid instead of walking the
    /// tree again; the last step, over the whole circle, names them all.
    ///
    /// A step reads at most [`ENTRIES_PER_PAGE`] times a page of entries, nearest first.
    /// Where that cuts it short (many issues at about one distance), or the reach spills
    /// out of the step's box, the search walks the tree itself as on PostgreSQL.
    fn entries_to_nearest(
        self,
        conn: &mut diesel::sqlite::SqliteConnection,
        circle: Circle,
        radii: &[f64],
        offset: i64,
    ) -> QueryResult<Reach> {
        let most = (offset + 1) * ENTRIES_PER_PAGE;
        for (step, &radius_m) in radii.iter().enumerate() {
            let whole_circle = step + 1 == radii.len();
            let bbox = Circle { radius_m, ..circle }.bounding_box();
            let entries: Vec<(i64, f64)> = KeepPrepared(EntriesInRing {
                bbox,
                ring: self,
                most,
            })
            .load(conn)?;
            let cut_short = entries.len() as i64 >= most;
            let all = |entries: Vec<(i64, f64)>| Reach::Entries {
                rowids: entries.into_iter().map(|(rowid, _)| rowid).collect(),
                all: true,
            };
            let nth = entries
                .iter()
                .filter(|(_, d)| *d > self.past)
                .nth(usize::try_from(offset).unwrap_or(usize::MAX));
            let Some(&(_, d)) = nth else {
                match (cut_short, whole_circle) {
                    (false, true) => return Ok(all(entries)),
                    (false, false) => continue,
                    (true, _) => return Ok(Reach::Whole),
                }
            };
            let Some((ring, reach)) = self.cut_at(circle, d) else {
                return Ok(if whole_circle && !cut_short {
                    all(entries)
                } else {
                    Reach::Whole
                });
            };
            let held = !cut_short || entries.last().is_some_and(|(_, last)| *last > ring.to);
            if !(held && bbox.holds(&reach)) {
                return Ok(Reach::Within(ring, reach));
            }
            return Ok(Reach::Entries {
                rowids: entries
                    .into_iter()
                    .take_while(|(_, d)| *d <= ring.to)
                    .map(|(rowid, _)| rowid)
                    .collect(),
                all: false,
            });
        }
        Ok(Reach::Whole)
    }
}

/// How many pages' worth of tree entries a step of [`Ring::entries_to_nearest`] reads
/// at most.
const ENTRIES_PER_PAGE: i64 = 4;

/// SQLite: `SELECT` the rowid and the distance (as [`Ring::walk_midpoint_distance`]
/// measures it) of the R*Tree's entries inside `bbox` and `ring`, nearest first, at most
/// `most` of them.
#[derive(Debug, Clone, Copy)]
struct EntriesInRing {
    bbox: BoundingBox,
    ring: Ring,
    most: i64,
}

impl diesel::query_builder::Query for EntriesInRing {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::Double);
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for EntriesInRing {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT id, d FROM (SELECT id, ");
        self.ring.walk_midpoint_distance(out.reborrow())?;
        out.push_sql(" AS d ");
        walk_tree_entries(&self.bbox, out.reborrow())?;
        out.push_sql(") WHERE d");
        self.ring.walk_bounds(out.reborrow())?;
        out.push_sql(" ORDER BY d LIMIT ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.most)?;
        Ok(())
    }
}

/// A near page of `$query` (issues, filtered, listed ones only): those within `$circle`
/// past `$start` (a distance and an id, from [`near_page_start`]), nearest first, at most
/// `$limit`, each with its distance. Over a query of one text it writes one text, so a
/// fixed query stays prepared.
macro_rules! near_page {
    ($query:expr, $circle:expr, $start:expr, $limit:expr) => {{
        let circle: Circle = $circle;
        let (after, after_id): &(f64, String) = $start;
        let d2 = squared_distance!(circle);
        $query
            .filter(d2.le(circle.squared_radius()))
            .filter(d2.gt(*after).or(d2.eq(*after).and(issues::id.gt(after_id))))
            .select((IssueRow::as_select(), d2))
            .order((d2.asc(), issues::id.asc()))
            .limit($limit)
    }};
}

/// Where a near page starts, for [`near_page!`]: after the cursor's distance and id, or
/// without one after `-1`, which every distance is.
fn near_page_start(cursor: Option<IssueCursor>) -> QueryResult<(f64, String)> {
    match cursor {
        Some(IssueCursor::Distance { d, id }) => Ok((d, id)),
        Some(IssueCursor::Newest { .. }) => Err(diesel::result::Error::NotFound),
        None => Ok((-1.0, String::new())),
    }
}

fn with_distances(rows: Vec<(IssueRow, f64)>) -> Vec<(IssueRow, Option<f64>)> {
    rows.into_iter().map(|(row, d)| (row, Some(d))).collect()
}

/// SQLite: a near page among the rows of the tree entries `rowids`, with one text for
/// any list.
fn near_page_of_entries(
    conn: &mut diesel::sqlite::SqliteConnection,
    circle: Circle,
    rowids: &[i64],
    cursor: Option<IssueCursor>,
    limit: i64,
) -> QueryResult<Vec<(IssueRow, Option<f64>)>> {
    let start = near_page_start(cursor)?;
    let among = issues::table
        .filter(crate::db::AmongJson::new(IndexKey, rowids))
        .filter(issues::hidden_at.is_null());
    let page = near_page!(among, circle, &start, limit);
    Ok(with_distances(KeepPrepared(page).load(conn)?))
}

/// A near page among the issues whose positions lie in `ring` inside `bbox`, through the
/// spatial index ([`PositionIn`]), on the backend's own connection: a fixed statement
/// that diesel then only binds.
fn near_page_in_ring(
    conn: &mut DbConnection,
    circle: Circle,
    (ring, bbox): (Ring, BoundingBox),
    cursor: Option<IssueCursor>,
    limit: i64,
) -> QueryResult<Vec<(IssueRow, Option<f64>)>> {
    let start = near_page_start(cursor)?;
    let in_ring = issues::table
        .filter(PositionIn { bbox, ring })
        .filter(issues::hidden_at.is_null());
    let rows = on_backend!(conn, |c| near_page!(in_ring, circle, &start, limit)
        .load(c)?);
    Ok(with_distances(rows))
}

/// `SELECT COALESCE((step), (step), …)`: the first step's answer that is not `NULL`.
/// PostgreSQL evaluates each subquery (an init plan) only when `COALESCE` reaches it.
struct FirstOf(Vec<issues::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Double>>);

impl diesel::query_builder::Query for FirstOf {
    type SqlType = diesel::sql_types::Nullable<diesel::sql_types::Double>;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for FirstOf {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT COALESCE(");
        for (i, step) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            diesel::query_builder::QueryFragment::<diesel::pg::Pg>::walk_ast(step, out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(")");
        Ok(())
    }
}

/// The smallest circle in which [`Ring::to_nearest`] first looks for a page's issues.
const FIRST_STEP_M: f64 = 50.0;

/// PostgreSQL: `SELECT` the distance of the `offset + 1`th nearest listed issue inside
/// `bbox` and `ring` that lies past the ring's cursor, from the positions the GiST index
/// includes (an index-only scan).
#[derive(Debug, Clone, Copy)]
struct NthInRing {
    circle: Circle,
    bbox: BoundingBox,
    ring: Ring,
    offset: i64,
}

impl NthInRing {
    /// This step on PostgreSQL, for [`FirstOf`].
    fn on_postgres(self) -> issues::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Double> {
        let d2 = squared_distance!(self.circle);
        issues::table
            .filter(PositionIn {
                bbox: self.bbox,
                ring: self.ring,
            })
            .filter(issues::hidden_at.is_null())
            .filter(d2.gt(self.ring.past))
            .filter(d2.le(self.ring.to))
            .select(d2)
            .order(d2.asc())
            .offset(self.offset)
            .limit(1)
            .into_boxed()
    }
}

/// Searches issues: up to `limit` rows after `cursor`, with the distance key for near
/// searches. The area narrows by an index first (see below); the exact distance is
/// computed afterwards by the caller.
///
/// A near search on SQLite reads the rows of the tree entries in its ring only (see
/// [`PositionIn`]). Without other filters, on both backends, it first asks the spatial
/// index alone how near the `limit`th issue is ([`Ring::to_nearest`]), and reads only
/// the rows that can be on the page: without that, a search of the default 1 km in a
/// dense part of a map of a million issues read 106,000 rows (and sorted them) for a
/// page of 50.
pub fn search_issues(
    conn: &mut DbConnection,
    area: Area,
    filters: &Filters,
    cursor: Option<IssueCursor>,
    limit: i64,
) -> QueryResult<Vec<(IssueRow, Option<f64>)>> {
    let Area::Near(circle) = area else {
        return search_in(conn, area, filters, cursor, limit, None);
    };
    if !filters.categories.is_empty() {
        // The index led by the category serves these (see `search_in`).
        return search_in(conn, area, filters, cursor, limit, None);
    }
    let ring = Ring::around(circle, cursor.as_ref());
    let unfiltered = filters.statuses.is_empty()
        && filters.text.is_none()
        && filters.reported_by.is_none()
        && filters.updated_since.is_none();
    let whole = (ring, circle.bounding_box());
    if !unfiltered {
        return search_in(conn, area, filters, cursor, limit, Some(whole));
    }
    let rows = match (ring.to_nearest(conn, circle, limit)?, &mut *conn) {
        (Reach::Whole, _) => None,
        (Reach::Within(ring, bbox), _) => Some(near_page_in_ring(
            conn,
            circle,
            (ring, bbox),
            cursor.clone(),
            limit,
        )?),
        (Reach::Entries { rowids, all }, DbConnection::Sqlite(c)) => {
            let rows = near_page_of_entries(c, circle, &rowids, cursor.clone(), limit)?;
            if all {
                return Ok(rows);
            }
            Some(rows)
        }
        // Only SQLite's steps name entries.
        (Reach::Entries { .. }, DbConnection::Postgresql(_)) => None,
    };
    match rows {
        Some(rows) if rows.len() as i64 >= limit => Ok(rows),
        _ => near_page_in_ring(conn, circle, whole, cursor, limit),
    }
}

/// [`search_issues`]; a near search without categories narrowed to the tree entries in
/// `ring` inside its box.
fn search_in(
    conn: &mut DbConnection,
    area: Area,
    filters: &Filters,
    cursor: Option<IssueCursor>,
    limit: i64,
    ring: Option<(Ring, BoundingBox)>,
) -> QueryResult<Vec<(IssueRow, Option<f64>)>> {
    let mut query = issues::table.select(IssueRow::as_select()).into_boxed();
    let bounds = match area {
        Area::Near(circle) => Some(circle.bounding_box()),
        Area::Within(bbox) => Some(bbox),
        Area::Anywhere => None,
    };
    if let Some(bbox) = bounds {
        // A near search narrows through the spatial index; the distance cut below is the
        // exact test. With categories, the index led by the category does better: it
        // skips the other categories' issues without reading their rows, which the tree
        // cannot (at 1M issues, create fell from 373 to 94 rps when the duplicate search
        // went through the tree). A box keeps the (lat, lon) index, with its exact bounds.
        if let (Area::Near(_), Some((ring, bbox))) = (area, ring) {
            query = query.filter(PositionIn { bbox, ring });
        } else {
            // The box comes first: SQLite tests the terms in the order written, and
            // these two it answers from either index alone, while a column the index
            // lacks (`hidden_at` below, for the (lat, lon) index) makes it read the row.
            query = query
                .filter(issues::lat.between(bbox.min_lat, bbox.max_lat))
                .filter(issues::lon.between(bbox.min_lon, bbox.max_lon));
        }
    }
    // Hidden issues are in no list, for anyone: staff find them through moderation.
    query = query.filter(issues::hidden_at.is_null());
    if let Some(any_category) = one_of(&filters.categories, |code| {
        Box::new(issues::category_code.eq(code))
    }) {
        query = query.filter(any_category);
    }
    if let Some(any_status) = one_of(&filters.statuses, |status| {
        Box::new(issues::status.eq(status))
    }) {
        query = query.filter(any_status);
    }
    if let Some(text) = &filters.text {
        let pattern = like_pattern(text);
        query = query.filter(
            lower(issues::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(issues::description).like(pattern).escape('\\')),
        );
    }
    if let Some(reporter) = &filters.reported_by {
        query = query.filter(issues::reporter_id.eq(reporter.clone()));
    }
    if let Some(since) = filters.updated_since {
        query = query.filter(issues::updated_at.ge(since));
    }
    match area {
        Area::Near(circle) => {
            let start = near_page_start(cursor)?;
            Ok(with_distances(
                near_page!(query, circle, &start, limit).load(conn)?,
            ))
        }
        Area::Within(_) | Area::Anywhere => newest_first(conn, query, cursor, limit),
    }
}

/// SQL that holds for a row of `sync_changes` whose issue is not in the public list of
/// `search_issues`: a deleted issue, or one moderators hid (hiding logs the change with
/// `sync::record`, so `GET /issues?include_deleted=true` reports it as a tombstone).
/// `insight::models::LISTED_SQL` (statistics and open data) is the same condition seen
/// from `issues`; whatever else ever takes issues out of the list changes both.
pub const NOT_LISTED_SQL: &str = "NOT EXISTS (SELECT 1 FROM issues \
     WHERE issues.id = sync_changes.entity_id AND issues.hidden_at IS NULL)";

type BoxedIssues<'a> = issues::BoxedQuery<
    'a,
    <DbConnection as diesel::Connection>::Backend,
    diesel::dsl::AsSelect<IssueRow, <DbConnection as diesel::Connection>::Backend>,
>;

fn newest_first(
    conn: &mut DbConnection,
    mut query: BoxedIssues<'_>,
    cursor: Option<IssueCursor>,
    limit: i64,
) -> QueryResult<Vec<(IssueRow, Option<f64>)>> {
    match cursor {
        Some(IssueCursor::Newest { before }) => query = query.filter(issues::id.lt(before)),
        Some(IssueCursor::Distance { .. }) => return Err(diesel::result::Error::NotFound),
        None => {}
    }
    let rows: Vec<IssueRow> = query.order(issues::id.desc()).limit(limit).load(conn)?;
    Ok(rows.into_iter().map(|row| (row, None)).collect())
}

/// Strips of longitude per degree: `issues.lon_cell` is the strip an issue lies in (see
/// the migration that made it), `(lon + 180) × 200` rounded down.
const LON_CELLS_PER_DEGREE: f64 = 200.0;

/// The most strips a search names. A box wider than that (a duplicate search's 250 m is
/// two or three strips up to 60° of latitude, six or seven at 80°) searches the whole band.
const MOST_LON_CELLS: usize = 8;

/// The strips between two longitudes, both included, as the term that holds for an issue
/// in one of them; none when there would be more than [`MOST_LON_CELLS`]. The arithmetic
/// is the column's, in the same double precision, so a point in the box is in one of them.
fn lon_cells(min_lon: f64, max_lon: f64) -> Option<CellIn> {
    // Within ±180°, the strips are 0 to 72,000: the casts neither saturate nor wrap.
    let cell = |lon: f64| ((lon + 180.0) * LON_CELLS_PER_DEGREE).floor() as i32;
    let (first, last) = (cell(min_lon), cell(max_lon));
    if last < first || (last - first) as usize >= MOST_LON_CELLS {
        return None;
    }
    // The last strip fills the places left: a strip named twice is still one strip, and
    // the term's text is the same for any count (see `nearby_open`).
    let mut cells = [last; MOST_LON_CELLS];
    for (place, strip) in cells.iter_mut().zip(first..last) {
        *place = strip;
    }
    Some(CellIn(cells))
}

/// Holds for the issues in one of the strips of longitude ([`lon_cells`]), written for
/// each backend's index, with the same text whatever the strips:
/// - SQLite: `lon_cell IN (?, …)`, a bind per place ([`MOST_LON_CELLS`]); diesel's own
///   `IN` list would be written and parsed anew each time.
/// - PostgreSQL: `lon_cell = ANY(?)`, one array. With the `OR`s of one column a list
///   becomes there, the planner scans the index once per strip and then reads every row
///   it found; with `ANY` it reads the index alone, which holds the id (1M issues:
///   0.6 ms against 3.0 ms).
#[derive(Debug, Clone, Copy, PartialEq)]
struct CellIn([i32; MOST_LON_CELLS]);

impl diesel::Expression for CellIn {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::AppearsOnTable<issues::table> for CellIn {}

impl<GroupBy> diesel::expression::ValidGrouping<GroupBy> for CellIn {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for CellIn {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql("issues.lon_cell IN (");
        for (i, cell) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<diesel::sql_types::Integer, _>(cell)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CellIn {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("issues.lon_cell = ANY(");
        out.push_bind_param::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(
            self.0.as_slice(),
        )?;
        out.push_sql(")");
        Ok(())
    }
}

/// The statement of [`nearby_open`] that reads strip by strip ([`PreparedAs`]).
struct NearbyInStrips;

/// The statement of [`nearby_open`] that reads the whole band of latitude.
struct NearbyAcrossBand;

/// How much of the radius the duplicate search looks in first ([`nearby_open`]).
const FIRST_REACH: f64 = 0.25;

/// Up to `limit` open issues of a category within `radius_m` of a point, nearest first.
///
/// Where reports are dense, the nearest lie well inside the circle: at 1,000,000 issues
/// the whole 250 m of a report's duplicate search holds hundreds of open issues of its
/// category, read entry by entry to find five. So on SQLite the search first looks within
/// [`FIRST_REACH`] of the radius, a sixteenth of the area. When that finds `limit + 1`,
/// they are the nearest in the whole circle: everything beyond lies farther, and the
/// order (distance, then key) is the same. Otherwise it looks in the whole circle.
/// PostgreSQL looks in the whole circle at once: there each statement is a round trip,
/// and its index holds the id, so the search reads no row.
pub fn nearby_open(
    conn: &mut DbConnection,
    category: &str,
    circle: Circle,
    exclude: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<IssueRow>> {
    let mut rows = match conn {
        DbConnection::Sqlite(_) => {
            let first = Circle {
                radius_m: circle.radius_m * FIRST_REACH,
                ..circle
            };
            open_within(conn, category, first, limit + 1)?
        }
        DbConnection::Postgresql(_) => Vec::new(),
    };
    if i64::try_from(rows.len()).unwrap_or(i64::MAX) <= limit {
        rows = open_within(conn, category, circle, limit + 1)?;
    }
    Ok(rows
        .into_iter()
        .filter(|row| Some(row.id.as_str()) != exclude)
        .filter(|row| distance_m(circle.lat, circle.lon, row.lat, row.lon) <= circle.radius_m)
        .take(usize::try_from(limit).unwrap_or(0))
        .collect())
}

/// The nearest `count` open issues of a category within a circle (by
/// `squared_distance!`), in order.
///
/// In two steps, so that few rows are read: the index led by the category
/// (`issues_open_by_category_cell`, or `issues_open_by_category` for a box wider than
/// [`MOST_LON_CELLS`] strips) holds every column the search tests, so the nearest are
/// picked from it alone (by their [`IndexKey`]), and only those are read from the table.
/// Among issues at the very same distance the pick goes by that key, the order goes by id.
fn open_within(
    conn: &mut DbConnection,
    category: &str,
    circle: Circle,
    count: i64,
) -> QueryResult<Vec<IssueRow>> {
    let (min_lat, max_lat, min_lon, max_lon) = circle.bounds();
    let open: Vec<String> = Status::open_states()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let cells = lon_cells(min_lon, max_lon);
    // On the backend's own connection, kept prepared under a key of its own: two texts,
    // since the strips' term has as many binds for any count, and the open statuses are
    // always the same list.
    on_backend!(conn, |c| {
        // The terms in the order of the index's columns: SQLite tests them in the order
        // written, each from the index entry. With the strips, the index is
        // `issues_open_by_category_cell`, read strip by strip within the band of
        // latitude; without, `issues_open_by_category`, read across the whole band.
        let mut nearest = issues::table
            .select(IndexKey)
            .filter(issues::category_code.eq(category))
            .into_boxed();
        if let Some(cells) = cells {
            nearest = nearest.filter(cells);
        }
        let nearest = nearest
            .filter(issues::lat.between(min_lat, max_lat))
            .filter(issues::lon.between(min_lon, max_lon))
            .filter(issues::status.eq_any(&open))
            .filter(issues::hidden_at.is_null())
            .filter(squared_distance!(circle).le(circle.squared_radius()))
            .order((squared_distance!(circle).asc(), IndexKey))
            .limit(count);
        let query = issues::table
            .select(IssueRow::as_select())
            .filter(KeyIn(nearest))
            .order((squared_distance!(circle).asc(), issues::id.asc()));
        match cells {
            Some(_) => PreparedAs::<NearbyInStrips, _>::new(query).load(c),
            None => PreparedAs::<NearbyAcrossBand, _>::new(query).load(c),
        }
    })
}

/// Changes made by an edit.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = issues)]
pub struct IssueChangeset {
    pub category_code: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub address: Option<Option<String>>,
    pub answers: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update_issue(
    conn: &mut DbConnection,
    id: &str,
    changes: &IssueChangeset,
) -> QueryResult<()> {
    diesel::update(issues::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

/// Moves an issue to `to`, but only if it is still in `from` (a concurrent change wins,
/// and this one reports a conflict). Returns whether it moved.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: Status,
    to: Status,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let closed_at = if to.is_open() { None } else { Some(now) };
    let moved = diesel::update(
        issues::table
            .find(id)
            .filter(issues::status.eq(from.as_str())),
    )
    .set((
        issues::status.eq(to.as_str()),
        issues::closed_at.eq(closed_at),
        issues::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(moved == 1)
}

pub fn set_duplicate_of(conn: &mut DbConnection, id: &str, canonical: &str) -> QueryResult<()> {
    diesel::update(issues::table.find(id))
        .set(issues::duplicate_of.eq(canonical))
        .execute(conn)
        .map(|_| ())
}

/// Which relation between an account and an issue.
#[derive(Debug, Clone, Copy)]
pub enum Bond {
    Support,
    Follow,
}

/// An issue's counts and status right after one of its counts moved.
#[derive(Debug, Clone, Queryable, QueryableByName)]
#[diesel(table_name = issues)]
pub struct BondCounts {
    pub support_count: i32,
    pub follower_count: i32,
    pub status: String,
}

impl BondCounts {
    /// The counts of a row as read.
    pub fn of(row: &IssueRow) -> Self {
        Self {
            support_count: row.support_count,
            follower_count: row.follower_count,
            status: row.status.clone(),
        }
    }
}

/// Adds the bond if missing; returns the issue's counts afterwards if it was added.
/// Counts move only when a row really appeared, so concurrent repeats cannot skew them.
pub fn add_bond(
    conn: &mut DbConnection,
    bond: Bond,
    issue_id: &str,
    account_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<BondCounts>> {
    if let DbConnection::Postgresql(pg) = conn {
        return add_bond_on_postgres(pg, bond, issue_id, account_id, now);
    }
    let added = match bond {
        Bond::Support => on_backend!(conn, |c| diesel::insert_into(issue_supports::table)
            .values((
                issue_supports::issue_id.eq(issue_id),
                issue_supports::account_id.eq(account_id),
                issue_supports::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?,
        Bond::Follow => on_backend!(conn, |c| diesel::insert_into(issue_follows::table)
            .values((
                issue_follows::issue_id.eq(issue_id),
                issue_follows::account_id.eq(account_id),
                issue_follows::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?,
    };
    if added != 1 {
        return Ok(None);
    }
    // The count's change in the sync log reaches the new supporter or follower too: they
    // relate to the issue from now on (`sync::record_for` is for a relation lost).
    Ok(Some(bump_count(conn, bond, issue_id, 1)?))
}

/// The statement of [`add_bond_on_postgres`] for one kind of bond: its table and the
/// issue's count it moves.
macro_rules! add_bond_sql {
    ($bonds:literal, $count:literal) => {
        concat!(
            "WITH added AS (INSERT INTO ",
            $bonds,
            " (issue_id, account_id, created_at) VALUES ($1, $2, $3) ",
            "ON CONFLICT DO NOTHING RETURNING issue_id), ",
            "counted AS (UPDATE issues SET ",
            $count,
            " = ",
            $count,
            " + 1 FROM added WHERE issues.id = added.issue_id ",
            "RETURNING issues.id, support_count, follower_count, status), ",
            "logged AS (INSERT INTO sync_changes (entity_type, entity_id, created_at) ",
            "SELECT $4, id, $3 FROM counted) ",
            "SELECT support_count, follower_count, status FROM counted"
        )
    };
}

/// [`add_bond`]'s three statements in one on PostgreSQL, where each is a round trip:
/// the bond (if missing), the count it moves, and the count's row in the sync log, as
/// [`bump_count`] writes them. No row comes back when the bond was there already.
fn add_bond_on_postgres(
    conn: &mut diesel::PgConnection,
    bond: Bond,
    issue_id: &str,
    account_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<BondCounts>> {
    use diesel::sql_types::{Text, Timestamp};
    let sql = match bond {
        Bond::Support => add_bond_sql!("issue_supports", "support_count"),
        Bond::Follow => add_bond_sql!("issue_follows", "follower_count"),
    };
    KeepPrepared(
        diesel::sql_query(sql)
            .bind::<Text, _>(issue_id)
            .bind::<Text, _>(account_id)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(crate::sync::Entity::Issue.as_str()),
    )
    .get_result(conn)
    .optional()
}

/// Removes the bond if present; returns the issue's counts afterwards if it was removed.
pub fn remove_bond(
    conn: &mut DbConnection,
    bond: Bond,
    issue_id: &str,
    account_id: &str,
) -> QueryResult<Option<BondCounts>> {
    let removed = match bond {
        Bond::Support => diesel::delete(
            issue_supports::table
                .filter(issue_supports::issue_id.eq(issue_id))
                .filter(issue_supports::account_id.eq(account_id)),
        )
        .execute(conn)?,
        Bond::Follow => diesel::delete(
            issue_follows::table
                .filter(issue_follows::issue_id.eq(issue_id))
                .filter(issue_follows::account_id.eq(account_id)),
        )
        .execute(conn)?,
    };
    if removed != 1 {
        return Ok(None);
    }
    let counts = bump_count(conn, bond, issue_id, -1)?;
    crate::sync::record_for(conn, crate::sync::Entity::Issue, issue_id, account_id)?;
    Ok(Some(counts))
}

/// Moves a count the issue shows, which changes the issue for everyone who caches it.
/// Returns the counts as the update left them (`RETURNING`: no second read).
fn bump_count(
    conn: &mut DbConnection,
    bond: Bond,
    issue_id: &str,
    by: i32,
) -> QueryResult<BondCounts> {
    let target = issues::table.find(issue_id);
    let after = (
        issues::support_count,
        issues::follower_count,
        issues::status,
    );
    let counts = match bond {
        Bond::Support => on_backend!(conn, |c| KeepPrepared(
            diesel::update(target)
                .set(issues::support_count.eq(issues::support_count + by))
                .returning(after)
        )
        .get_result(c))?,
        Bond::Follow => on_backend!(conn, |c| KeepPrepared(
            diesel::update(target)
                .set(issues::follower_count.eq(issues::follower_count + by))
                .returning(after)
        )
        .get_result(c))?,
    };
    crate::sync::record(conn, crate::sync::Entity::Issue, issue_id)?;
    Ok(counts)
}

/// Whether the account supports and follows the issue.
pub fn bonds_of(
    conn: &mut DbConnection,
    issue_id: &str,
    account_id: &str,
) -> QueryResult<(bool, bool)> {
    on_backend!(conn, |c| diesel::select(bonds(issue_id, account_id))
        .get_result(c))
}

/// Whether `account` supports and whether it follows issue `id`: two `EXISTS`.
#[diesel::dsl::auto_type]
fn bonds<'a>(id: &'a str, account: &'a str) -> _ {
    (
        diesel::dsl::exists(
            issue_supports::table
                .filter(issue_supports::issue_id.eq(id))
                .filter(issue_supports::account_id.eq(account)),
        ),
        diesel::dsl::exists(
            issue_follows::table
                .filter(issue_follows::issue_id.eq(id))
                .filter(issue_follows::account_id.eq(account)),
        ),
    )
}

/// Moves the supporters and followers of a duplicate to its canonical issue (those who
/// already back the canonical one are not counted twice) and recounts both.
pub fn merge_bonds(
    conn: &mut DbConnection,
    duplicate: &str,
    canonical: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let supporters: Vec<String> = issue_supports::table
        .filter(issue_supports::issue_id.eq(duplicate))
        .select(issue_supports::account_id)
        .load(conn)?;
    for account in &supporters {
        add_bond(conn, Bond::Support, canonical, account, now)?;
        remove_bond(conn, Bond::Support, duplicate, account)?;
    }
    let followers: Vec<String> = issue_follows::table
        .filter(issue_follows::issue_id.eq(duplicate))
        .select(issue_follows::account_id)
        .load(conn)?;
    for account in &followers {
        add_bond(conn, Bond::Follow, canonical, account, now)?;
        remove_bond(conn, Bond::Follow, duplicate, account)?;
    }
    Ok(())
}

/// Display names of accounts, by id.
pub fn display_names(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(crate::db::names_by_id!(
        conn,
        accounts::table,
        accounts::id,
        accounts::display_name,
        ids
    ))
}

/// A page of an issue's timeline, oldest first, after the event `after`.
pub fn timeline_page(
    conn: &mut DbConnection,
    issue_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = issue_events::table
        .filter(issue_events::issue_id.eq(issue_id))
        .select(EventRow::as_select())
        .order(issue_events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(issue_events::id.gt(after));
    }
    query.load(conn)
}

/// One comment of an issue; `NotFound` if it is not a comment of this issue.
pub fn find_comment(
    conn: &mut DbConnection,
    issue_id: &str,
    comment_id: &str,
) -> QueryResult<EventRow> {
    issue_events::table
        .find(comment_id)
        .filter(issue_events::issue_id.eq(issue_id))
        .filter(issue_events::kind.eq(EventKind::Comment.as_str()))
        .select(EventRow::as_select())
        .first(conn)
}

/// Deletes a comment's text, leaving a tombstone in the timeline (a change to the issue
/// for the sync feed).
pub fn tombstone_comment(
    conn: &mut DbConnection,
    issue_id: &str,
    comment_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(issue_events::table.find(comment_id))
        .set((
            issue_events::body.eq(None::<String>),
            issue_events::deleted_at.eq(now),
        ))
        .execute(conn)?;
    crate::sync::record(conn, crate::sync::Entity::Issue, issue_id)
}

#[cfg(test)]
mod tests {
    use super::{CellIn, MOST_LON_CELLS, lon_cells};

    /// The SQL text of the term, without its binds.
    fn text(cells: CellIn) -> String {
        let written = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&cells).to_string();
        written
            .split(" -- binds")
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// `nearby_open` keeps one statement for any number of strips ([`PreparedAs`]): the
    /// term names every strip of the box, and only those, in a text of one shape.
    #[test]
    fn the_strips_of_a_box_fill_every_place_of_one_text() {
        // Strip 35,975 is −0.125° to −0.120°.
        let one = lon_cells(-0.1249, -0.1201).unwrap();
        assert_eq!(one, CellIn([35_975; MOST_LON_CELLS]));
        let three = lon_cells(-0.1251, -0.1151).unwrap();
        let mut strips = three.0.to_vec();
        strips.dedup();
        assert_eq!(strips, [35_974, 35_975, 35_976]);
        let eight = lon_cells(-0.1251, -0.0901).unwrap();
        assert_eq!(eight.0, std::array::from_fn(|i| 35_974 + i as i32));
        assert_eq!(text(one), text(three));
        assert_eq!(text(one), text(eight));
        assert_eq!(lon_cells(-0.1251, -0.0851), None, "nine strips");
    }
}
