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

/// Property tests of the form decoding (issue 10, "Bad input, at scale"). Bounded here;
/// run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use chrono::{DateTime, FixedOffset, SecondsFormat};
    use proptest::prelude::*;

    /// A form-ish body: random bytes, or pairs of names and values made of the characters
    /// that matter to the parser (`&`, `=`, `%`, `+`, brackets), escaped or not.
    fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2000),
            proptest::collection::vec(
                (r"[a-z\[\]%+=&0-9A-F]{0,20}", r"[a-z\[\]%+=&0-9A-F ]{0,20}"),
                0..40
            )
            .prop_map(|pairs| pairs
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()),
            (1..3 * MAX_PARAMS).prop_map(|n| "a=1&".repeat(n).into_bytes()),
        ]
    }

    /// An attribute code: anything without brackets, sometimes clashing.
    fn code() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c]",
            "[a-z0-9_]{1,50}",
            any::<String>().prop_filter("a code", |c| !c.is_empty() && !c.contains(['[', ']'])),
        ]
    }

    /// Attributes to send: distinct codes, each sent as `attribute[CODE]` (one value) or
    /// `attribute[CODE][]` (one or more), with any text as values.
    fn attributes() -> impl Strategy<Value = Vec<(String, bool, Vec<String>)>> {
        proptest::collection::vec(
            (
                code(),
                any::<bool>(),
                proptest::collection::vec(any::<String>(), 1..4),
            ),
            0..8,
        )
        .prop_map(|attributes| {
            let mut seen = Vec::new();
            attributes
                .into_iter()
                .filter(|(code, ..)| {
                    let fresh = !seen.contains(code);
                    seen.push(code.clone());
                    fresh
                })
                .map(|(code, list, mut values)| {
                    if !list {
                        values.truncate(1);
                    }
                    (code, list, values)
                })
                .collect()
        })
    }

    /// A time with a zone, from year 1 to 9999.
    fn zoned_time() -> impl Strategy<Value = DateTime<FixedOffset>> {
        (
            -62_135_596_800_i64 + 86_400..253_402_300_799 - 86_400,
            0_u32..1_000_000_000,
            -86_340_i32 / 60..86_340 / 60,
        )
            .prop_map(|(secs, nanos, offset_minutes)| {
                let offset = FixedOffset::east_opt(offset_minutes * 60)
                    .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()));
                DateTime::from_timestamp(secs, nanos)
                    .unwrap_or_default()
                    .with_timezone(&offset)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Any body or query string parses or is refused, never panics, and what parses
        /// stays within the limits; reading it never panics either.
        #[test]
        fn proptest_any_form_parses_within_limits(raw in form_bytes()) {
            if let Ok(params) = Params::parse(&raw) {
                prop_assert!(params.pairs().count() <= MAX_PARAMS);
                prop_assert!(params.pairs().all(|(_, value)| value.len() <= MAX_VALUE_BYTES));
                for (code, values) in params.attributes() {
                    prop_assert!(!code.is_empty() && !code.contains(['[', ']']));
                    prop_assert!(!values.is_empty());
                }
                if let Some(value) = params.get("a") {
                    prop_assert!(!value.is_empty() && value.trim() == value);
                }
                let mut problems = Vec::new();
                if let Some((lat, long)) = parse_position(&params, &mut problems) {
                    prop_assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long));
                }
                let _ = params.flag("a");
            }
        }

        /// Attributes sent in a form come back by code, in the order first sent, with
        /// every value as sent (blank ones too), whatever other parameters surround them
        /// and whether the brackets are percent-encoded or not.
        #[test]
        fn proptest_attributes_round_trip(
            attributes in attributes(),
            noise in proptest::collection::vec((r"[a-z_\[\]]{0,12}", any::<String>()), 0..6),
            raw_brackets in any::<bool>(),
        ) {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            let mut noise = noise.into_iter();
            for (code, list, values) in &attributes {
                for value in values {
                    let name = if *list { format!("attribute[{code}][]") } else { format!("attribute[{code}]") };
                    form.append_pair(&name, value);
                }
                if let Some((name, value)) = noise.next().filter(|(name, _)| !name.starts_with("attribute[")) {
                    form.append_pair(&name, &value);
                }
            }
            let mut body = form.finish();
            if raw_brackets {
                body = body.replace("%5B", "[").replace("%5D", "]");
                // A code's own escaped brackets cannot occur: codes hold none.
            }
            let params = Params::parse(body.as_bytes());
            prop_assert!(params.is_ok());
            let expected: Vec<(String, Vec<String>)> = attributes
                .into_iter()
                .map(|(code, _, values)| (code, values))
                .collect();
            prop_assert_eq!(params.map(|p| p.attributes()).unwrap_or_default(), expected);
        }

        /// The value parsers answer for any text, and what they accept is in range.
        #[test]
        fn proptest_values_parse_or_are_refused(raw in prop_oneof![any::<String>(), r"[-+0-9.eE, :TZa-z]{0,40}"]) {
            if let Ok(number) = parse_number("n", &raw) {
                prop_assert!(number.is_finite());
            }
            if let Ok(whole) = parse_whole("w", &raw, -5, 1000) {
                prop_assert!((-5..=1000).contains(&whole));
            }
            let _ = parse_time("t", &raw);
            if let Ok(items) = split_list("l", Some(&raw), 3) {
                prop_assert!(items.len() <= 3);
                prop_assert!(items.iter().all(|item| !item.is_empty() && item.trim() == *item));
            }
        }

        /// Any time with a zone, written as RFC 3339 (or with the `+` of its zone turned into
        /// a space, as an unencoded query string delivers it), reads back as the same instant.
        #[test]
        fn proptest_times_round_trip(time in zoned_time(), colon in any::<bool>(), plus_as_space in any::<bool>()) {
            let mut raw = time.to_rfc3339_opts(SecondsFormat::AutoSi, false);
            if !colon && !raw.ends_with('Z') {
                // `…+0100`: the zone without its colon.
                let at = raw.len() - 3;
                raw.remove(at);
            }
            if plus_as_space {
                raw = raw.replace('+', " ");
            }
            prop_assert_eq!(parse_time("t", &raw), Ok(time.naive_utc()), "{}", raw);
        }

        /// Positions in range written in decimal read back exactly; out of range, refused.
        #[test]
        fn proptest_positions_round_trip(lat in -200.0_f64..200.0, long in -400.0_f64..400.0) {
            let body = format!("lat={lat}&long={long}");
            let params = Params::parse(body.as_bytes()).unwrap_or_default();
            let mut problems = Vec::new();
            let position = parse_position(&params, &mut problems);
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long) {
                prop_assert_eq!(position, Some((lat, long)));
                prop_assert!(problems.is_empty());
            } else {
                prop_assert_eq!(position, None);
                prop_assert!(!problems.is_empty());
            }
        }
    }
}
