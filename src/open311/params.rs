//! Open311 parameters as clients send them: raw `name=value` pairs from a query string or
//! a form, where names repeat (`attribute[x][]`), an empty value means the parameter is
//! absent and unknown names are ignored. Plus the parsers of the values they carry.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::error::{Open311Error, Open311Result};

/// The most parameters one query string or form may carry.
pub const MAX_PARAMS: usize = 500;
/// The longest value of a single parameter, in bytes (a `description` of 4000 characters
/// of four-byte UTF-8 fits).
const MAX_VALUE_BYTES: usize = 16 * 1024;

/// The parameters of a request, in the order sent.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(raw: &[u8]) -> Open311Result<Self> {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(raw) {
            params.push(name.into_owned(), value.into_owned())?;
        }
        Ok(params)
    }

    /// Adds one parameter, refusing past the limits.
    pub fn push(&mut self, name: String, value: String) -> Open311Result<()> {
        if self.0.len() >= MAX_PARAMS {
            return Err(Open311Error::invalid(format!(
                "At most {MAX_PARAMS} parameters may be sent."
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(Open311Error::invalid(format!(
                "`{name}` is too long: at most {MAX_VALUE_BYTES} bytes."
            )));
        }
        self.0.push((name, value));
        Ok(())
    }

    /// Adds every parameter of `other` after these.
    pub fn extend(&mut self, other: Self) -> Open311Result<()> {
        for (name, value) in other.0 {
            self.push(name, value)?;
        }
        Ok(())
    }

    /// The first non-blank value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .find(|value| !value.is_empty())
    }

    /// Every pair, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Whether `name` is `true`.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    /// The answers to a service's attributes: `attribute[CODE]=v` and
    /// `attribute[CODE][]=v`, by code in the order first sent (blank values kept, so the
    /// validation can tell "answered blank" from "asked nothing").
    pub fn attributes(&self) -> Vec<(String, Vec<String>)> {
        let mut answers: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in self.pairs() {
            let Some(code) = attribute_code(name) else {
                continue;
            };
            match answers.iter_mut().find(|(seen, _)| seen == code) {
                Some((_, values)) => values.push(value.to_owned()),
                None => answers.push((code.to_owned(), vec![value.to_owned()])),
            }
        }
        answers
    }
}

/// The `CODE` of `attribute[CODE]` or `attribute[CODE][]`.
fn attribute_code(name: &str) -> Option<&str> {
    let inner = name.strip_prefix("attribute[")?;
    let inner = inner.strip_suffix("[]").unwrap_or(inner);
    let code = inner.strip_suffix(']')?;
    (!code.is_empty() && !code.contains(['[', ']'])).then_some(code)
}

/// Splits a comma-separated list, dropping blanks; at most `max` items.
pub fn split_list<'a>(
    name: &str,
    raw: Option<&'a str>,
    max: usize,
) -> Result<Vec<&'a str>, String> {
    let items: Vec<&str> = raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect();
    if items.len() > max {
        return Err(format!("`{name}` takes at most {max} values."));
    }
    Ok(items)
}

/// An ISO 8601 time with a zone (`2026-01-31T12:00:00Z`, `…+01:00`, `…+0100`) or a date
/// alone (midnight UTC), as stored: naive UTC.
pub fn parse_time(name: &str, raw: &str) -> Result<NaiveDateTime, String> {
    let parse = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map(|time| time.with_timezone(&Utc).naive_utc())
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|date| date.and_hms_opt(0, 0, 0))
            })
    };
    // An unencoded `+` in a query string arrives as a space.
    parse(raw)
        .or_else(|| parse(&raw.replace(' ', "+")))
        .ok_or_else(|| {
            format!(
                "`{name}` must be an ISO 8601 date and time with a zone, such as \
                 2026-01-31T12:00:00Z, or a date such as 2026-01-31."
            )
        })
}

/// A finite decimal number.
pub fn parse_number(name: &str, raw: &str) -> Result<f64, String> {
    raw.parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
        .ok_or_else(|| format!("`{name}` must be a number."))
}

/// A whole number in `min..=max`.
pub fn parse_whole(name: &str, raw: &str, min: i64, max: i64) -> Result<i64, String> {
    raw.parse::<i64>()
        .ok()
        .filter(|number| (min..=max).contains(number))
        .ok_or_else(|| format!("`{name}` must be a whole number from {min} to {max}."))
}

/// A latitude and a longitude, both or neither; `None` when neither was sent.
pub fn parse_position(params: &Params, problems: &mut Vec<String>) -> Option<(f64, f64)> {
    match (params.get("lat"), params.get("long")) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            problems.push("`lat` and `long` go together: send both or neither.".to_owned());
            None
        }
        (Some(lat), Some(long)) => {
            let lat = parse_number("lat", lat)
                .and_then(|lat| {
                    (-90.0..=90.0)
                        .contains(&lat)
                        .then_some(lat)
                        .ok_or_else(|| "`lat` must be a latitude from -90 to 90.".to_owned())
                })
                .map_err(|problem| problems.push(problem))
                .ok();
            let long = parse_number("long", long)
                .and_then(|long| {
                    (-180.0..=180.0)
                        .contains(&long)
                        .then_some(long)
                        .ok_or_else(|| "`long` must be a longitude from -180 to 180.".to_owned())
                })
                .map_err(|problem| problems.push(problem))
                .ok();
            lat.zip(long)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_absent_and_the_first_value_wins() {
        let params = Params::parse(b"status=&status=+open+&page=2&page=3&q").unwrap();
        assert_eq!(params.get("status"), Some("open"));
        assert_eq!(params.get("page"), Some("2"));
        assert_eq!(params.get("q"), None);
        assert_eq!(params.get("missing"), None);
    }

    #[test]
    fn repeated_attributes_are_gathered_by_code() {
        let params = Params::parse(
            b"attribute%5Bsize%5D=small&attribute[items][]=bags&attribute[items][]=tyres&attribute[]=x&attribute[a]b]=y",
        )
        .unwrap();
        assert_eq!(
            params.attributes(),
            vec![
                ("size".to_owned(), vec!["small".to_owned()]),
                (
                    "items".to_owned(),
                    vec!["bags".to_owned(), "tyres".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let raw = "a=1&".repeat(MAX_PARAMS + 1);
        assert!(Params::parse(raw.as_bytes()).is_err());
        assert!(Params::parse("a=1&".repeat(MAX_PARAMS).as_bytes()).is_ok());
    }

    #[test]
    fn times_need_a_zone_or_are_dates() {
        let expected = NaiveDate::from_ymd_opt(2026, 1, 31)
            .unwrap()
            .and_hms_opt(11, 0, 0)
            .unwrap();
        for raw in [
            "2026-01-31T11:00:00Z",
            "2026-01-31T12:00:00+01:00",
            "2026-01-31T12:00:00+0100",
            "2026-01-31T12:00:00 01:00",
        ] {
            assert_eq!(parse_time("t", raw), Ok(expected), "{raw}");
        }
        assert_eq!(
            parse_time("t", "2026-01-31"),
            Ok(expected.date().and_hms_opt(0, 0, 0).unwrap())
        );
        for raw in ["2026-01-31T11:00:00", "yesterday", "2026-13-01"] {
            assert!(parse_time("t", raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn positions_need_both_halves_in_range() {
        let mut problems = Vec::new();
        let params = Params::parse(b"lat=51.5&long=-0.12").unwrap();
        assert_eq!(parse_position(&params, &mut problems), Some((51.5, -0.12)));
        let params = Params::parse(b"lat=91&long=abc").unwrap();
        assert_eq!(parse_position(&params, &mut problems), None);
        assert_eq!(problems.len(), 2);
        let params = Params::parse(b"lat=51").unwrap();
        assert_eq!(parse_position(&params, &mut problems), None);
        assert_eq!(problems.len(), 3);
    }

    #[test]
    fn lists_are_split_and_bounded() {
        assert_eq!(split_list("x", Some("a, b,,c"), 3), Ok(vec!["a", "b", "c"]));
        assert!(split_list("x", Some("a,b"), 1).is_err());
        assert_eq!(split_list("x", None, 1), Ok(vec![]));
    }
}
