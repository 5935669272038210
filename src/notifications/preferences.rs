//! Which kinds of notification a citizen wants: six topics, each on unless switched off,
//! kept on the account as a JSON object of booleans (absent topics are on).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// A kind of notification a citizen can switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Status changes of issues they reported or follow (and their being marked duplicate).
    StatusChanges,
    /// Comments on issues they reported or follow.
    Comments,
    /// A group adopting (or releasing) an issue they reported or follow.
    Adoptions,
    /// Their pledges confirmed, promoted from the waitlist, verified or their claims rejected.
    Pledges,
    /// Opportunities they pledged to being cancelled.
    Opportunities,
    /// Their requests to join a group approved.
    Groups,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Self::StatusChanges,
        Self::Comments,
        Self::Adoptions,
        Self::Pledges,
        Self::Opportunities,
        Self::Groups,
    ];

    /// The key in `notification_preferences`.
    pub fn key(self) -> &'static str {
        match self {
            Self::StatusChanges => "status_changes",
            Self::Comments => "comments",
            Self::Adoptions => "adoptions",
            Self::Pledges => "pledges",
            Self::Opportunities => "opportunities",
            Self::Groups => "groups",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|topic| topic.key() == key)
    }
}

fn on() -> bool {
    true
}

/// Which kinds of notification the citizen gets, in the feed and by push. All are on
/// until switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = NotificationPreferences)]
pub struct Preferences {
    /// Status changes of issues you reported or follow.
    #[serde(default = "on")]
    pub status_changes: bool,
    /// Comments on issues you reported or follow.
    #[serde(default = "on")]
    pub comments: bool,
    /// A group adopting or releasing an issue you reported or follow.
    #[serde(default = "on")]
    pub adoptions: bool,
    /// Your pledges confirmed (also on promotion from the waitlist) and your hours verified
    /// or not.
    #[serde(default = "on")]
    pub pledges: bool,
    /// Opportunities you pledged to being cancelled.
    #[serde(default = "on")]
    pub opportunities: bool,
    /// Your requests to join a group approved.
    #[serde(default = "on")]
    pub groups: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            status_changes: true,
            comments: true,
            adoptions: true,
            pledges: true,
            opportunities: true,
            groups: true,
        }
    }
}

impl Preferences {
    /// Reads the stored JSON; anything unreadable counts as the defaults (everything on),
    /// so a damaged value never silences a citizen.
    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_default()
    }

    /// The JSON to store.
    pub fn to_stored(self) -> String {
        serde_json::to_string(&self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::StatusChanges => self.status_changes,
            Topic::Comments => self.comments,
            Topic::Adoptions => self.adoptions,
            Topic::Pledges => self.pledges,
            Topic::Opportunities => self.opportunities,
            Topic::Groups => self.groups,
        }
    }

    fn set(&mut self, topic: Topic, value: bool) {
        let slot = match topic {
            Topic::StatusChanges => &mut self.status_changes,
            Topic::Comments => &mut self.comments,
            Topic::Adoptions => &mut self.adoptions,
            Topic::Pledges => &mut self.pledges,
            Topic::Opportunities => &mut self.opportunities,
            Topic::Groups => &mut self.groups,
        };
        *slot = value;
    }

    /// These preferences with `patch` applied.
    pub fn with(mut self, patch: &PreferencesPatch) -> Self {
        for &(topic, value) in &patch.0 {
            self.set(topic, value);
        }
        self
    }
}

// Only documents the request shape: requests are read as a map and parsed into
// `PreferencesPatch`, so that every bad key is reported by name.
/// Changes to the notification preferences: any of the kinds, each `true` or `false`;
/// kinds left out stay as they are.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferencesPatch {
    #[schema(nullable = false)]
    pub status_changes: Option<bool>,
    #[schema(nullable = false)]
    pub comments: Option<bool>,
    #[schema(nullable = false)]
    pub adoptions: Option<bool>,
    #[schema(nullable = false)]
    pub pledges: Option<bool>,
    #[schema(nullable = false)]
    pub opportunities: Option<bool>,
    #[schema(nullable = false)]
    pub groups: Option<bool>,
}

/// A validated change to the preferences: known topics with boolean values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferencesPatch(Vec<(Topic, bool)>);

impl PreferencesPatch {
    /// Parses the JSON object of a request; every unknown key and non-boolean value is
    /// reported, named `notification_preferences.<key>`.
    pub fn parse(
        raw: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        for (key, value) in raw {
            let field = format!("notification_preferences.{key}");
            match (Topic::parse(key), value.as_bool()) {
                (None, _) => errors.push(FieldError::new(
                    &field,
                    "unknown_topic",
                    format!(
                        "Not a kind of notification; the kinds are {}.",
                        Topic::ALL.map(Topic::key).join(", ")
                    ),
                )),
                (Some(_), None) => {
                    errors.push(FieldError::new(&field, "not_boolean", "true or false."))
                }
                (Some(topic), Some(value)) => changes.push((topic, value)),
            }
        }
        if errors.is_empty() {
            Ok(Self(changes))
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn absent_or_unreadable_preferences_are_all_on() {
        assert_eq!(Preferences::from_stored("{}"), Preferences::default());
        assert_eq!(Preferences::from_stored("not json"), Preferences::default());
        let stored = Preferences::from_stored(r#"{"comments": false}"#);
        assert!(!stored.wants(Topic::Comments));
        assert!(stored.wants(Topic::StatusChanges));
        assert_eq!(Preferences::from_stored(&stored.to_stored()), stored);
    }

    #[test]
    fn a_patch_changes_only_the_topics_it_names() {
        let patch = PreferencesPatch::parse(&map(json!({"pledges": false, "groups": true})));
        let Ok(patch) = patch else {
            panic!("a valid patch was refused");
        };
        let prefs = Preferences::default().with(&patch);
        assert!(!prefs.pledges && prefs.groups && prefs.comments);
    }

    #[test]
    fn unknown_topics_and_non_booleans_are_all_reported() {
        let Err(errors) = PreferencesPatch::parse(&map(json!({"spam": true, "comments": "no"})))
        else {
            panic!("an invalid patch was accepted");
        };
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(fields.contains(&("notification_preferences.spam", "unknown_topic")));
        assert!(fields.contains(&("notification_preferences.comments", "not_boolean")));
    }
}
