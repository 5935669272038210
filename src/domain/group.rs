//! Values that make up a community group: its name, area, tags, join policy, and the
//! roles and statuses of its members.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Coordinates;
use crate::error::FieldError;

/// A group name: 3 to 80 characters after trimming, on one line. Names are unique
/// whatever their case: `key` is what uniqueness is checked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 80;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let length = name.chars().count();
        if length < Self::MIN_LEN {
            return Err(FieldError::new(
                field,
                "too_short",
                format!("At least {} characters.", Self::MIN_LEN),
            ));
        }
        if length > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("At most {} characters.", Self::MAX_LEN),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "Must not contain control characters or line breaks.",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The lower-cased name, unique across groups.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The radius of a group's area, in metres: 50 to 50 000.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radius(f64);

impl Radius {
    pub const MIN_M: f64 = 50.0;
    pub const MAX_M: f64 = 50_000.0;

    pub fn parse(field: &str, metres: f64) -> Result<Self, FieldError> {
        if metres.is_finite() && (Self::MIN_M..=Self::MAX_M).contains(&metres) {
            Ok(Self(metres))
        } else {
            Err(FieldError::new(
                field,
                "out_of_range",
                format!("Between {} and {} metres.", Self::MIN_M, Self::MAX_M),
            ))
        }
    }

    pub fn metres(self) -> f64 {
        self.0
    }
}

/// Where a group works: a centre and a radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupArea {
    pub centre: Coordinates,
    pub radius: Radius,
}

impl GroupArea {
    /// Checks all three values; errors name `lat`, `lon` and `radius_m`.
    pub fn new(lat: f64, lon: f64, radius_m: f64) -> Result<Self, Vec<FieldError>> {
        let centre = Coordinates::new("lat", lat, "lon", lon);
        let radius = Radius::parse("radius_m", radius_m);
        match (centre, radius) {
            (Ok(centre), Ok(radius)) => Ok(Self { centre, radius }),
            (centre, radius) => {
                let mut errors = centre.err().unwrap_or_default();
                errors.extend(radius.err());
                Err(errors)
            }
        }
    }
}

/// A group's tags: at most 20, each 1 to 30 characters of `a-z`, `0-9` and `-` after
/// lower-casing; repeats are dropped, order is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<String>);

/// A tag (group tag, skill) as stored: trimmed and lower-cased, 1 to 30 characters of
/// a-z, 0-9 and `-`; `None` when it is not one.
pub fn tag_key(raw: &str) -> Option<String> {
    let tag = raw.trim().to_lowercase();
    let well_formed = (1..=Tags::MAX_LEN).contains(&tag.chars().count())
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    well_formed.then_some(tag)
}

impl Tags {
    pub const MAX_COUNT: usize = 20;
    pub const MAX_LEN: usize = 30;

    /// Checks every tag; errors name `field` (too many) or `field[i]` (one bad tag).
    pub fn parse(field: &str, raw: &[String]) -> Result<Self, Vec<FieldError>> {
        if raw.len() > Self::MAX_COUNT {
            return Err(vec![FieldError::new(
                field,
                "too_many",
                format!("At most {} tags.", Self::MAX_COUNT),
            )]);
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        let mut errors = Vec::new();
        for (i, tag) in raw.iter().enumerate() {
            let Some(tag) = tag_key(tag) else {
                errors.push(FieldError::new(
                    &format!("{field}[{i}]"),
                    "invalid_tag",
                    format!("1 to {} characters of a-z, 0-9 and `-`.", Self::MAX_LEN),
                ));
                continue;
            };
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if errors.is_empty() {
            Ok(Self(tags))
        } else {
            Err(errors)
        }
    }

    /// The tags as stored: comma-separated (no tag can hold a comma).
    pub fn to_stored(&self) -> String {
        self.0.join(",")
    }

    /// The tags of a stored value.
    pub fn from_stored(stored: &str) -> Vec<String> {
        stored
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// How a citizen joins a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Anyone joins at once.
    Open,
    /// Joining asks; an organiser approves.
    Approval,
    /// Only invited accounts may join.
    Invite,
}

impl JoinPolicy {
    pub const ALL: [Self; 3] = [Self::Open, Self::Approval, Self::Invite];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approval => "approval",
            Self::Invite => "invite",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Parses a request field; the error names it.
    pub fn parse_field(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw).ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_join_policy",
                "One of `open`, `approval`, `invite`.",
            )
        })
    }
}

/// What a member may do in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Runs the group: everything organisers do, and makes or unmakes owners.
    Owner,
    /// Edits the group, manages members, adopts issues.
    Organiser,
    Member,
}

impl MemberRole {
    pub const ALL: [Self; 3] = [Self::Owner, Self::Organiser, Self::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Organiser => "organiser",
            Self::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Owners and organisers.
    pub fn organises(self) -> bool {
        matches!(self, Self::Owner | Self::Organiser)
    }
}

/// Where an account stands with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// A member.
    Active,
    /// Asked to join; waits for an organiser.
    Pending,
    /// Invited by an organiser; joins by `PUT /groups/{id}/membership`.
    Invited,
    /// Removed by an organiser; may join again.
    Removed,
    /// Banned by an organiser; may not join again.
    Banned,
}

impl MemberStatus {
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Pending,
        Self::Invited,
        Self::Removed,
        Self::Banned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Invited => "invited",
            Self::Removed => "removed",
            Self::Banned => "banned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_trimmed_bounded_and_keyed_by_lower_case() {
        let name = GroupName::parse("name", "  Friends of Elm Park ").unwrap();
        assert_eq!(name.as_str(), "Friends of Elm Park");
        assert_eq!(name.key(), "friends of elm park");
        assert_eq!(
            GroupName::parse("name", "ab").unwrap_err().code,
            "too_short"
        );
        assert_eq!(
            GroupName::parse("name", &"a".repeat(81)).unwrap_err().code,
            "too_long"
        );
        assert!(GroupName::parse("name", &"é".repeat(80)).is_ok());
        assert!(GroupName::parse("name", "two\nlines").is_err());
    }

    #[test]
    fn areas_need_a_place_on_the_map_and_a_radius_of_50_m_to_50_km() {
        assert!(GroupArea::new(51.5, -0.1, 50.0).is_ok());
        assert!(GroupArea::new(51.5, -0.1, 50_000.0).is_ok());
        let fields: Vec<String> = GroupArea::new(91.0, 0.0, 49.0)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["lat", "radius_m"]);
        assert!(Radius::parse("r", f64::NAN).is_err());
        assert!(Radius::parse("r", 50_001.0).is_err());
    }

    #[test]
    fn tags_are_lower_cased_deduplicated_and_bounded() {
        let raw = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let tags = Tags::parse("tags", &raw(&["Litter", "tree-planting", "litter"])).unwrap();
        assert_eq!(tags.to_stored(), "litter,tree-planting");
        assert_eq!(
            Tags::from_stored("litter,tree-planting"),
            ["litter", "tree-planting"]
        );
        assert!(Tags::from_stored("").is_empty());
        let errors = Tags::parse("tags", &raw(&["ok", "not ok", "", &"a".repeat(31)])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tags[1]", "tags[2]", "tags[3]"]);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse("tags", &many).unwrap_err()[0].code, "too_many");
    }

    #[test]
    fn policies_roles_and_statuses_round_trip() {
        for policy in JoinPolicy::ALL {
            assert_eq!(JoinPolicy::parse(policy.as_str()), Some(policy));
        }
        for role in MemberRole::ALL {
            assert_eq!(MemberRole::parse(role.as_str()), Some(role));
        }
        for status in MemberStatus::ALL {
            assert_eq!(MemberStatus::parse(status.as_str()), Some(status));
        }
        assert!(JoinPolicy::parse_field("join_policy", "closed").is_err());
        assert!(MemberRole::Organiser.organises() && !MemberRole::Member.organises());
    }
}

/// Property tests of the area and tag parsers (issue 10, "Bad input, at scale"). Bounded
/// here; run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn any_number() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            -1.0e6_f64..1.0e6,
            Just(Radius::MIN_M),
            Just(Radius::MAX_M),
            Just(f64::NAN),
            Just(f64::INFINITY),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A radius is accepted exactly when it is finite and within 50 m to 50 km, and an
        /// area exactly when its centre is on the map too; each refusal names its field.
        #[test]
        fn proptest_areas_are_in_range_or_refused(lat in any_number(), lon in any_number(), radius in any_number()) {
            let radius_ok = (Radius::MIN_M..=Radius::MAX_M).contains(&radius);
            prop_assert_eq!(Radius::parse("radius_m", radius).is_ok(), radius_ok);
            let lat_ok = (-90.0..=90.0).contains(&lat);
            let lon_ok = (-180.0..=180.0).contains(&lon);
            match GroupArea::new(lat, lon, radius) {
                Ok(area) => {
                    prop_assert!(lat_ok && lon_ok && radius_ok);
                    prop_assert_eq!(area.radius.metres(), radius);
                    prop_assert_eq!((area.centre.lat, area.centre.lon), (lat, lon));
                }
                Err(errors) => {
                    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                    prop_assert_eq!(fields.contains(&"lat"), !lat_ok);
                    prop_assert_eq!(fields.contains(&"lon"), !lon_ok);
                    prop_assert_eq!(fields.contains(&"radius_m"), !radius_ok);
                }
            }
        }

        /// A tag key is always 1 to 30 characters of a-z, 0-9 and `-`, and reads back as
        /// itself; tags as stored read back as the parsed tags.
        #[test]
        fn proptest_tags_are_well_formed_and_round_trip(
            raw in proptest::collection::vec(prop_oneof![any::<String>(), "[ ]?[A-Za-z0-9-]{0,32}[ ]?"], 0..25),
        ) {
            for tag in &raw {
                if let Some(key) = tag_key(tag) {
                    prop_assert!((1..=Tags::MAX_LEN).contains(&key.len()));
                    prop_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                    prop_assert_eq!(tag_key(&key), Some(key.clone()));
                }
            }
            if let Ok(tags) = Tags::parse("tags", &raw) {
                prop_assert!(raw.len() <= Tags::MAX_COUNT);
                let stored = tags.to_stored();
                prop_assert_eq!(Tags::from_stored(&stored), tags.0.clone());
                prop_assert_eq!(Tags::parse("tags", &tags.0).ok(), Some(tags));
            }
        }
    }
}
