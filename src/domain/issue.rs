//! Values that make up an issue report: title, description, address, coordinates, and the
//! text of comments and notes.

use crate::error::FieldError;

/// Trims and bounds a piece of plain text: `min..=max` characters, no control characters
/// but newlines and tabs.
fn plain_text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    let length = text.chars().count();
    if length < min {
        return Err(if min == 1 {
            FieldError::new(field, "required", "Must not be empty.")
        } else {
            FieldError::new(field, "too_short", format!("At least {min} characters."))
        });
    }
    if length > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("At most {max} characters."),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Must not contain control characters.",
        ));
    }
    Ok(text.to_owned())
}

/// An issue title: 3 to 120 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        plain_text(field, raw, 3, 120).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An issue description: plain text, at most 4000 characters (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        plain_text(field, raw, 0, 4000).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A street address as people write it: 1 to 300 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        plain_text(field, raw, 1, 300).map(Self)
    }

    /// An address a request may leave out: missing or blank is none.
    pub fn parse_optional(field: &str, raw: Option<&str>) -> Result<Option<Self>, FieldError> {
        raw.filter(|raw| !raw.trim().is_empty())
            .map(|raw| Self::parse(field, raw))
            .transpose()
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The text of a comment or a status note: 1 to 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        plain_text(field, raw, 1, 2000).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The note on a pledge: 1 to 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PledgeNote(String);

impl PledgeNote {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        plain_text(field, raw, 1, 1000).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A WGS84 position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    /// Checks a latitude and longitude; errors name `lat_field` and `lon_field`.
    pub fn new(
        lat_field: &str,
        lat: f64,
        lon_field: &str,
        lon: f64,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            errors.push(FieldError::new(
                lat_field,
                "out_of_range",
                "A latitude between -90 and 90.",
            ));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            errors.push(FieldError::new(
                lon_field,
                "out_of_range",
                "A longitude between -180 and 180.",
            ));
        }
        if errors.is_empty() {
            Ok(Self { lat, lon })
        } else {
            Err(errors)
        }
    }

    /// Parses `lat,lon`.
    pub fn parse_pair(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                field,
                "invalid_format",
                "Expected `lat,lon` in decimal degrees.",
            )
        };
        let (lat, lon) = raw.split_once(',').ok_or_else(invalid)?;
        let lat: f64 = lat.trim().parse().map_err(|_| invalid())?;
        let lon: f64 = lon.trim().parse().map_err(|_| invalid())?;
        Self::new(field, lat, field, lon).map_err(|mut errors| errors.remove(0))
    }
}

/// Parses `min_lon,min_lat,max_lon,max_lat`; returns them in that order.
pub fn parse_bbox(field: &str, raw: &str, max_span_degrees: f64) -> Result<[f64; 4], FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            "invalid_format",
            "Expected `min_lon,min_lat,max_lon,max_lat` in decimal degrees.",
        )
    };
    let parts: Vec<f64> = raw
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let [min_lon, min_lat, max_lon, max_lat] = parts[..] else {
        return Err(invalid());
    };
    Coordinates::new(field, min_lat, field, min_lon).map_err(|_| invalid())?;
    Coordinates::new(field, max_lat, field, max_lon).map_err(|_| invalid())?;
    if min_lon > max_lon || min_lat > max_lat {
        return Err(FieldError::new(
            field,
            "invalid_box",
            "The minimum must not exceed the maximum.",
        ));
    }
    if max_lon - min_lon > max_span_degrees || max_lat - min_lat > max_span_degrees {
        return Err(FieldError::new(
            field,
            "too_large",
            format!("At most {max_span_degrees} degrees across."),
        ));
    }
    Ok([min_lon, min_lat, max_lon, max_lat])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            Title::parse("t", "  Pothole ").unwrap().into_inner(),
            "Pothole"
        );
        assert_eq!(Title::parse("t", "ab").unwrap_err().code, "too_short");
        assert_eq!(
            Title::parse("t", &"a".repeat(121)).unwrap_err().code,
            "too_long"
        );
        assert!(Description::parse("d", "").is_ok());
        assert!(Description::parse("d", "line one\nline two").is_ok());
        assert!(Description::parse("d", "bell\u{7}").is_err());
    }

    #[test]
    fn a_missing_or_blank_address_is_none() {
        assert_eq!(Address::parse_optional("a", None), Ok(None));
        assert_eq!(Address::parse_optional("a", Some("  ")), Ok(None));
        assert_eq!(
            Address::parse_optional("a", Some(" 1 Mill Lane ")),
            Ok(Some(Address("1 Mill Lane".to_owned())))
        );
        let too_long = "a".repeat(301);
        let error = Address::parse_optional("a", Some(&too_long)).unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.code.as_str()),
            ("a", "too_long")
        );
    }

    #[test]
    fn coordinates_must_be_on_the_map() {
        assert!(Coordinates::new("lat", 51.5, "lon", -0.1).is_ok());
        assert_eq!(
            Coordinates::new("lat", 91.0, "lon", 181.0)
                .unwrap_err()
                .len(),
            2
        );
        assert!(Coordinates::parse_pair("near", "51.5,-0.1").is_ok());
        for bad in ["51.5", "a,b", "51.5,-0.1,3", "NaN,0", "inf,0"] {
            assert!(Coordinates::parse_pair("near", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn boxes_are_ordered_and_bounded() {
        assert_eq!(
            parse_bbox("bbox", "-0.2,51.4,0.0,51.6", 10.0).unwrap(),
            [-0.2, 51.4, 0.0, 51.6]
        );
        assert_eq!(
            parse_bbox("bbox", "0,51,-1,52", 10.0).unwrap_err().code,
            "invalid_box"
        );
        assert_eq!(
            parse_bbox("bbox", "-20,0,20,1", 10.0).unwrap_err().code,
            "too_large"
        );
        assert!(parse_bbox("bbox", "1,2,3", 10.0).is_err());
    }
}

/// Property tests of the place parsers (issue 10, "Bad input, at scale"). Bounded here;
/// run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The largest box the lists allow.
    const MAX_SPAN: f64 = 10.0;

    /// A decimal number as clients write it, or something that is not quite one.
    fn number_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|n| n.to_string()),
            (-200.0_f64..200.0).prop_map(|n| format!("{n:.6}")),
            r"[ ]?[-+]?[0-9]{0,4}(\.[0-9]{0,8})?([eE][-+]?[0-9]{1,3})?[ ]?",
            "(?i)[-+]?(nan|inf|infinity)",
            any::<String>(),
        ]
    }

    fn list_text() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(number_text(), 0..6).prop_map(|parts| parts.join(",")),
            any::<String>(),
            r"[-0-9., eE]{0,40}",
        ]
    }

    fn lat() -> impl Strategy<Value = f64> {
        prop_oneof![-90.0_f64..=90.0, Just(90.0), Just(-90.0), Just(0.0)]
    }

    fn lon() -> impl Strategy<Value = f64> {
        prop_oneof![-180.0_f64..=180.0, Just(180.0), Just(-180.0)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Any `bbox` parses or is refused, never panics, and an accepted box is on the
        /// map, ordered, and at most `MAX_SPAN` degrees across.
        #[test]
        fn proptest_any_bbox_is_in_range_or_refused(raw in list_text()) {
            if let Ok([min_lon, min_lat, max_lon, max_lat]) = parse_bbox("bbox", &raw, MAX_SPAN) {
                for lon in [min_lon, max_lon] {
                    prop_assert!(lon.is_finite() && (-180.0..=180.0).contains(&lon));
                }
                for lat in [min_lat, max_lat] {
                    prop_assert!(lat.is_finite() && (-90.0..=90.0).contains(&lat));
                }
                prop_assert!(min_lon <= max_lon && min_lat <= max_lat);
                prop_assert!(max_lon - min_lon <= MAX_SPAN && max_lat - min_lat <= MAX_SPAN);
            }
        }

        /// Any `near` parses or is refused, never panics, and an accepted point is on the map.
        #[test]
        fn proptest_any_near_is_in_range_or_refused(raw in list_text()) {
            if let Ok(point) = Coordinates::parse_pair("near", &raw) {
                prop_assert!(point.lat.is_finite() && (-90.0..=90.0).contains(&point.lat));
                prop_assert!(point.lon.is_finite() && (-180.0..=180.0).contains(&point.lon));
            }
        }

        /// A point on the map, written in decimal (with blanks around the parts, or not),
        /// reads back exactly; one off the map is refused.
        #[test]
        fn proptest_near_round_trips(lat in lat(), lon in lon(), spaced in any::<bool>(), off in -400.0_f64..400.0) {
            let raw = if spaced { format!(" {lat} , {lon} ") } else { format!("{lat},{lon}") };
            prop_assert_eq!(Coordinates::parse_pair("near", &raw), Ok(Coordinates { lat, lon }));
            if !(-90.0..=90.0).contains(&off) {
                let raw = format!("{off},{lon}");
                prop_assert!(Coordinates::parse_pair("near", &raw).is_err(), "{}", raw);
            }
            if !(-180.0..=180.0).contains(&off) {
                let raw = format!("{lat},{off}");
                prop_assert!(Coordinates::parse_pair("near", &raw).is_err(), "{}", raw);
            }
        }

        /// A box within the limits, written in decimal, reads back exactly; turned around,
        /// `invalid_box`; grown past the span, `too_large`.
        #[test]
        fn proptest_bbox_round_trips(
            min_lon in -180.0_f64..170.0,
            min_lat in -90.0_f64..80.0,
            width in 0.0_f64..=MAX_SPAN,
            height in 0.0_f64..=MAX_SPAN,
        ) {
            let max_lon = (min_lon + width).min(180.0);
            let max_lat = (min_lat + height).min(90.0);
            let raw = format!("{min_lon},{min_lat},{max_lon},{max_lat}");
            if max_lon - min_lon <= MAX_SPAN && max_lat - min_lat <= MAX_SPAN {
                prop_assert_eq!(parse_bbox("bbox", &raw, MAX_SPAN), Ok([min_lon, min_lat, max_lon, max_lat]));
            }
            if max_lon > min_lon {
                let turned = format!("{max_lon},{min_lat},{min_lon},{max_lat}");
                prop_assert_eq!(parse_bbox("bbox", &turned, MAX_SPAN).map_err(|e| e.code), Err("invalid_box".to_owned()));
            }
            let wide = min_lon + MAX_SPAN + 0.5;
            if wide <= 180.0 {
                let raw = format!("{min_lon},{min_lat},{wide},{max_lat}");
                prop_assert_eq!(parse_bbox("bbox", &raw, MAX_SPAN).map_err(|e| e.code), Err("too_large".to_owned()));
            }
        }
    }
}
