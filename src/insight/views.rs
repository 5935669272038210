//! Query parameters and bodies of `GET /stats` and the open-data exports.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::FieldError;

/// The widest box, in degrees, `bbox` may span.
pub const MAX_BBOX_DEGREES: f64 = 10.0;
/// The longest period `from`..`to` may span, in days (five years).
pub const MAX_PERIOD_DAYS: i64 = 5 * 366;
/// The period when `from` is not given: the year before `to`.
pub const DEFAULT_PERIOD_DAYS: i64 = 365;

/// Filters of `GET /stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Only issues, pledges and groups inside `min_lon,min_lat,max_lon,max_lat` (decimal
    /// degrees, at most 10° across). Pledges count by the place of their issue or
    /// opportunity (online opportunities have none), groups by their centre.
    #[param(example = "-0.2,51.4,0.0,51.6")]
    pub bbox: Option<String>,
    /// Start of the period, inclusive: RFC 3339 or a date (`2026-01-01`, midnight UTC).
    /// Default: one year before `to`.
    #[param(example = "2026-01-01")]
    pub from: Option<String>,
    /// End of the period, exclusive: RFC 3339 or a date (the whole day is included).
    /// Default: now. At most five years after `from`.
    #[param(example = "2026-12-31")]
    pub to: Option<String>,
}

/// The period the figures cover.
#[derive(Debug, Serialize, ToSchema)]
pub struct Period {
    /// Inclusive.
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
}

/// How many issues of a category were reported in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryCount {
    #[schema(example = "pothole")]
    pub code: String,
    #[schema(example = "Pothole")]
    pub name: String,
    pub count: i64,
}

/// Issues reported in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueCounts {
    pub total: i64,
    /// Every status (`reported`, `community`, `resolved`, `escalated`, …) with the number
    /// of those issues in it now; zero included.
    pub by_status: BTreeMap<String, i64>,
    /// The categories with at least one issue, by code.
    pub by_category: Vec<CategoryCount>,
}

/// The figures of one calendar month (UTC).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct MonthFigures {
    #[schema(example = "2026-03")]
    pub month: String,
    /// Issues reported in the month.
    pub reported: i64,
    /// Issues now `resolved` (fixed by the community) that were closed in the month.
    pub resolved_by_community: i64,
    /// Issues now `fixed` (fixed by the council) that were closed in the month.
    pub fixed_by_council: i64,
    /// Hours of time pledges made in the month that still stand (not withdrawn, lapsed
    /// or no-show).
    pub hours_pledged: f64,
    /// Hours verified by organisers in the month.
    pub hours_verified: f64,
}

/// Time from report to resolution along one path.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionTime {
    /// Issues resolved along this path in the period.
    pub count: i64,
    /// Median seconds from report (`created_at`) to resolution (`closed_at`); `null`
    /// with no issue.
    #[schema(example = 172800)]
    pub median_seconds: Option<f64>,
}

/// Median time to resolution by path.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionTimes {
    /// Issues now `resolved`: fixed by the community.
    pub community: ResolutionTime,
    /// Issues now `fixed`: fixed by the council.
    pub council: ResolutionTime,
}

/// Aggregate figures for an area and period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub period: Period,
    /// The box the figures are limited to, `[min_lon, min_lat, max_lon, max_lat]`;
    /// absent for everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    pub issues: IssueCounts,
    /// Every month the period touches, oldest first (zeros included).
    pub months: Vec<MonthFigures>,
    pub time_to_resolution: ResolutionTimes,
    /// Groups active in the period: not archived, centred in the box, and in the period
    /// gained an active member or held an opportunity (one starting in the period).
    pub active_groups: i64,
}

/// Filters of the open-data exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenDataQuery {
    /// Only issues inside `min_lon,min_lat,max_lon,max_lat` (at most 10° across).
    pub bbox: Option<String>,
    /// Only issues reported at or after: RFC 3339 or a date.
    pub from: Option<String>,
    /// Only issues reported before: RFC 3339 or a date (the whole day is included).
    pub to: Option<String>,
    /// Only these categories (comma-separated codes, at most 50).
    pub category: Option<String>,
}

/// Parses a period bound: RFC 3339, or a date meaning midnight UTC at its start (`from`)
/// or after its end (`to`, so the day is included).
pub fn parse_instant(
    field: &str,
    raw: &str,
    end_of_day: bool,
) -> Result<NaiveDateTime, FieldError> {
    let raw = raw.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.with_timezone(&Utc).naive_utc());
    }
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let start = date.and_time(chrono::NaiveTime::MIN);
        return Ok(if end_of_day {
            start + TimeDelta::days(1)
        } else {
            start
        });
    }
    Err(FieldError::new(
        field,
        "invalid_format",
        "Expected an RFC 3339 time or a date (YYYY-MM-DD).",
    ))
}

/// Every month `YYYY-MM` from the one holding `from` to the one holding the instant
/// before `to`.
pub fn months_between(from: NaiveDateTime, to: NaiveDateTime) -> Vec<String> {
    use chrono::Datelike;
    let last = to - TimeDelta::microseconds(1);
    let (mut year, mut month) = (from.year(), from.month());
    let mut months = Vec::new();
    while (year, month) <= (last.year(), last.month()) {
        months.push(format!("{year:04}-{month:02}"));
        if month == 12 {
            year += 1;
            month = 1;
        } else {
            month += 1;
        }
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_and_to_dates_include_the_day() {
        let from = parse_instant("from", "2026-03-01", false).unwrap();
        let to = parse_instant("to", "2026-03-31", true).unwrap();
        assert_eq!(from.to_string(), "2026-03-01 00:00:00");
        assert_eq!(to.to_string(), "2026-04-01 00:00:00");
        let t = parse_instant("from", "2026-03-01T10:00:00+01:00", false).unwrap();
        assert_eq!(t.to_string(), "2026-03-01 09:00:00");
        assert!(parse_instant("from", "March", false).is_err());
    }

    #[test]
    fn months_cover_the_period() {
        let from = parse_instant("from", "2025-11-15", false).unwrap();
        let to = parse_instant("to", "2026-02-01", false).unwrap();
        assert_eq!(months_between(from, to), ["2025-11", "2025-12", "2026-01"]);
    }
}
