//! `GET /api/v1/open-data/issues.csv` and `.geojson`: the public issues, without
//! personal data, streamed a page at a time so memory stays constant however many rows.
//!
//! Each issue carries its id, category (code and name), status, report / last change /
//! closing times, location and supporter count. Nothing personal or free-form leaves:
//! no reporter, contact, title, description, address, photos or comments (titles and
//! descriptions are residents' own words and may name people).

use std::sync::Arc;

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, get, web};
use bytes::Bytes;
use chrono::SecondsFormat;
use futures_util::stream;

use super::models::{self, OpenDataFilter, OpenIssueRow};
use super::routes::parse_area;
use super::views::{OpenDataQuery, parse_instant};
use crate::db::{self, Pool, utc};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::startup::AppState;

/// Issues read per database round trip.
pub const PAGE_SIZE: i64 = 1000;
/// The most category codes `category` may name.
pub const MAX_CATEGORIES: usize = 50;

/// The CSV columns, in order.
pub const CSV_COLUMNS: &str = "id,category,category_name,status,created_at,updated_at,closed_at,lat,lon,support_count,licence";

#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    GeoJson,
}

/// All public issues as CSV (RFC 4180, UTF-8, a header row), ordered by id.
///
/// Columns: `id, category, category_name, status, created_at, updated_at, closed_at`
/// (RFC 3339 UTC; `closed_at` empty while open), `lat, lon` (WGS 84), `support_count`,
/// and `licence`: the licence the data is published under (the deployment's
/// `CIVITAS_OPEN_DATA_LICENCE`), on every row so it travels with any extract. No
/// personal data and no free text (titles, descriptions, addresses) are included.
/// Streamed: the response has no `Content-Length`.
#[utoipa::path(
    tag = "Insight",
    params(OpenDataQuery),
    responses(
        (status = 200, description = "The issues, one per row", content_type = "text/csv", body = String),
        (status = 400, response = crate::error::BadRequest),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/open-data/issues.csv")]
pub async fn export_issues_csv(
    state: web::Data<AppState>,
    query: web::Query<OpenDataQuery>,
) -> ApiResult<HttpResponse> {
    export(state, &query, Format::Csv).await
}

/// All public issues as a GeoJSON `FeatureCollection` (RFC 7946), ordered by id.
///
/// Each feature is a `Point` (`[lon, lat]`) with `id` and properties `category`,
/// `category_name`, `status`, `created_at`, `updated_at`, `closed_at` (RFC 3339 UTC or
/// `null`) and `support_count`. The collection's top-level `licence` names the licence
/// the data is published under (`CIVITAS_OPEN_DATA_LICENCE`). No personal data and no
/// free text are included. Streamed: the response has no `Content-Length`.
#[utoipa::path(
    tag = "Insight",
    params(OpenDataQuery),
    responses(
        (status = 200, description = "A FeatureCollection of the issues", content_type = "application/geo+json", body = Object),
        (status = 400, response = crate::error::BadRequest),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/open-data/issues.geojson")]
pub async fn export_issues_geojson(
    state: web::Data<AppState>,
    query: web::Query<OpenDataQuery>,
) -> ApiResult<HttpResponse> {
    export(state, &query, Format::GeoJson).await
}

fn parse_filter(query: &OpenDataQuery) -> ApiResult<OpenDataFilter> {
    let mut errors = FieldErrors::new();
    let bbox = parse_area(query.bbox.as_deref(), &mut errors);
    let from = errors.optional(query.from.as_deref(), |raw| {
        parse_instant("from", raw, false)
    });
    let to = errors.optional(query.to.as_deref(), |raw| parse_instant("to", raw, true));
    let categories: Vec<String> = query
        .category
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    if categories.len() > MAX_CATEGORIES {
        errors.push(FieldError::new(
            "category",
            "too_many",
            format!("At most {MAX_CATEGORIES} values."),
        ));
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            errors.push(FieldError::new(
                "from",
                "invalid_period",
                "`from` must come before `to`.",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(OpenDataFilter {
        bbox,
        from,
        to,
        categories,
    })
}

/// Where the stream stands.
struct Export {
    pool: Pool,
    filter: Arc<OpenDataFilter>,
    format: Format,
    licence: Arc<str>,
    /// The first page, read before answering so a database failure is still a 503.
    pending: Option<Vec<OpenIssueRow>>,
    after: Option<String>,
    /// Whether a feature was written (GeoJSON needs commas between them).
    wrote_any: bool,
    phase: Phase,
}

enum Phase {
    Start,
    Rows,
    End,
    Done,
}

async fn export(
    state: web::Data<AppState>,
    query: &OpenDataQuery,
    format: Format,
) -> ApiResult<HttpResponse> {
    let filter = Arc::new(parse_filter(query)?);
    let first = {
        let filter = filter.clone();
        db::read(&state.pool, move |conn| {
            Ok(models::open_issues_page(conn, &filter, None, PAGE_SIZE)?)
        })
        .await?
    };
    let export = Export {
        pool: state.pool.clone(),
        filter,
        format,
        licence: Arc::from(state.config.open_data_licence.as_str()),
        pending: Some(first),
        after: None,
        wrote_any: false,
        phase: Phase::Start,
    };
    let (content_type, filename) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "issues.csv"),
        Format::GeoJson => ("application/geo+json", "issues.geojson"),
    };
    let body = stream::unfold(export, next_chunk);
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename.into())],
        })
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .streaming(body))
}

/// The next piece of the file: the opening, one page of rows, or the closing.
async fn next_chunk(mut export: Export) -> Option<(Result<Bytes, actix_web::Error>, Export)> {
    match export.phase {
        Phase::Start => {
            export.phase = Phase::Rows;
            let opening = match export.format {
                Format::Csv => format!("{CSV_COLUMNS}\r\n"),
                Format::GeoJson => format!(
                    "{{\"type\":\"FeatureCollection\",\"licence\":{},\"features\":[",
                    serde_json::Value::from(&*export.licence)
                ),
            };
            Some((Ok(Bytes::from(opening)), export))
        }
        Phase::Rows => {
            let rows = match export.pending.take() {
                Some(rows) => rows,
                None => {
                    let filter = export.filter.clone();
                    let after = export.after.clone();
                    let page = db::read(&export.pool, move |conn| {
                        Ok(models::open_issues_page(
                            conn,
                            &filter,
                            after.as_deref(),
                            PAGE_SIZE,
                        )?)
                    })
                    .await;
                    match page {
                        Ok(rows) => rows,
                        Err(error) => {
                            // The status line is gone; ending the body early is all that
                            // is left, and the client sees a truncated file.
                            tracing::error!(?error, "open-data export failed mid-stream");
                            export.phase = Phase::Done;
                            return Some((Err(error.into()), export));
                        }
                    }
                }
            };
            if (rows.len() as i64) < PAGE_SIZE {
                export.phase = Phase::End;
            }
            export.after = rows.last().map(|row| row.id.clone());
            let mut chunk = String::with_capacity(rows.len() * 200);
            for row in &rows {
                match export.format {
                    Format::Csv => write_csv_row(&mut chunk, row, &export.licence),
                    Format::GeoJson => {
                        if export.wrote_any {
                            chunk.push(',');
                        }
                        chunk.push_str(&feature(row).to_string());
                        chunk.push('\n');
                    }
                }
                export.wrote_any = true;
            }
            Some((Ok(Bytes::from(chunk)), export))
        }
        Phase::End => {
            export.phase = Phase::Done;
            let closing = match export.format {
                Format::Csv => "",
                Format::GeoJson => "]}\n",
            };
            Some((Ok(Bytes::from_static(closing.as_bytes())), export))
        }
        Phase::Done => None,
    }
}

fn time(t: chrono::NaiveDateTime) -> String {
    utc(t).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn feature(row: &OpenIssueRow) -> serde_json::Value {
    serde_json::json!({
        "type": "Feature",
        "id": row.id,
        "geometry": { "type": "Point", "coordinates": [row.lon, row.lat] },
        "properties": {
            "category": row.category_code,
            "category_name": row.category_name,
            "status": row.status,
            "created_at": time(row.created_at),
            "updated_at": time(row.updated_at),
            "closed_at": row.closed_at.map(time),
            "support_count": row.support_count,
        },
    })
}

/// Appends one field, quoted when it holds a comma, quote or line break (RFC 4180).
/// Fields starting with `=`, `+`, `-` or `@` get a leading `'` so spreadsheets do not
/// run them as formulas (category names are staff-written text).
fn push_field(out: &mut String, value: &str) {
    let guarded;
    let value = if value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err() {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn write_csv_row(out: &mut String, row: &OpenIssueRow, licence: &str) {
    let closed = row.closed_at.map(time).unwrap_or_default();
    let fields = [
        row.id.as_str(),
        &row.category_code,
        &row.category_name,
        &row.status,
        &time(row.created_at),
        &time(row.updated_at),
        &closed,
        &row.lat.to_string(),
        &row.lon.to_string(),
        &row.support_count.to_string(),
        licence,
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed_and_formulas_are_defused() {
        let mut out = String::new();
        push_field(&mut out, "plain");
        out.push('|');
        push_field(&mut out, "a, \"b\"");
        out.push('|');
        push_field(&mut out, "=SUM(A1)");
        out.push('|');
        push_field(&mut out, "-0.12");
        assert_eq!(out, "plain|\"a, \"\"b\"\"\"|'=SUM(A1)|-0.12");
    }
}
