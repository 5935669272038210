//! Who hears about an event and what they read: the audience, the topic that lets them
//! switch it off, and a short title and body in plain words.

use diesel::prelude::*;
use serde_json::{Value, json};

use super::models;
use super::preferences::Topic;
use crate::db::DbConnection;
use crate::events::Event;
use crate::issues::models as issue_models;
use crate::opportunities::models as opportunity_models;
use crate::pledges::models as pledge_models;

/// The longest excerpt of a comment, note or reason in a notification body, in characters.
const EXCERPT_CHARS: usize = 140;

/// What to tell whom about one event.
#[derive(Debug, Clone)]
pub struct Notice {
    pub topic: Topic,
    /// Who should hear, before the actor and preferences are taken out; may repeat.
    pub audience: Vec<String>,
    pub title: String,
    pub body: Option<String>,
    /// Ids for deep links (`issue_id`, `pledge_id`, `opportunity_id`, `group_id`).
    pub data: Value,
}

/// The notice for `event`, or `None` if nobody is told about events of its kind (or what
/// it is about has gone).
pub fn notice(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Notice>> {
    let details = event.details();
    match event.subject_type.as_str() {
        "issue" => issue_notice(conn, event, &details),
        "pledge" => pledge_notice(conn, event, &details),
        "opportunity" => opportunity_notice(conn, event, &details),
        "group" => group_notice(conn, event, &details),
        _ => Ok(None),
    }
}

/// The account that caused the event, if one did: it is never told about its own doing.
pub fn actor(event: &Event) -> Option<String> {
    event
        .details()
        .get("actor_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn issue_notice(
    conn: &mut DbConnection,
    event: &Event,
    details: &Value,
) -> QueryResult<Option<Notice>> {
    let topic = match event.kind.as_str() {
        "issue.status_changed" | "issue.marked_duplicate" => Topic::StatusChanges,
        "issue.commented" => Topic::Comments,
        "issue.adopted" | "issue.adoption_released" => Topic::Adoptions,
        _ => return Ok(None),
    };
    // An issue moderators hid tells nobody about itself (what staff still do to it).
    let Some(issue) = issue_models::find_shown_issue(conn, &event.subject_id).optional()? else {
        return Ok(None);
    };
    let entry = match details.get("timeline_entry_id").and_then(Value::as_str) {
        Some(id) => models::timeline_entry(conn, id)?,
        None => None,
    };
    let entry_text = entry
        .as_ref()
        .filter(|e| e.deleted_at.is_none())
        .and_then(|e| e.body.as_deref())
        .filter(|text| !text.trim().is_empty())
        .map(excerpt);
    let entry_data: Value = entry
        .as_ref()
        .and_then(|e| e.data.as_deref())
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null);
    let mut audience: Vec<String> = issue.reporter_id.iter().cloned().collect();
    audience.extend(models::followers(conn, &issue.id)?);
    let mut data = json!({ "issue_id": issue.id });
    let name = &issue.title;
    let (title, body) = match event.kind.as_str() {
        "issue.status_changed" => {
            let to = details
                .get("to_status")
                .and_then(Value::as_str)
                .unwrap_or(&issue.status);
            data["status"] = json!(to);
            (format!("{name} is now {}", status_phrase(to)), entry_text)
        }
        "issue.marked_duplicate" => {
            // Marking a duplicate moves its followers to the canonical issue in the same
            // transaction, so they are found there, stamped with the event's time.
            if let Some(canonical) = &issue.duplicate_of {
                audience.extend(models::followers_since(conn, canonical, event.created_at)?);
                data["duplicate_of"] = json!(canonical);
            }
            (
                format!("{name} was marked as a duplicate"),
                Some("It was reported before: updates continue on the earlier report.".into()),
            )
        }
        "issue.commented" => {
            let who = match details.get("actor_id").and_then(Value::as_str) {
                Some(id) => models::display_name(conn, id)?,
                None => None,
            };
            let who = who.unwrap_or_else(|| "Someone".to_owned());
            if let Some(entry) = &entry {
                data["comment_id"] = json!(entry.id);
            }
            (format!("{who} commented on {name}"), entry_text)
        }
        "issue.adopted" | "issue.adoption_released" => {
            let group = entry_data
                .get("group_name")
                .and_then(Value::as_str)
                .unwrap_or("A community group")
                .to_owned();
            if let Some(id) = entry_data.get("group_id") {
                data["group_id"] = id.clone();
            }
            if event.kind == "issue.adopted" {
                (
                    format!("{group} adopted {name}"),
                    Some("The group is taking it on.".into()),
                )
            } else {
                (
                    format!("{group} is no longer taking on {name}"),
                    Some("The issue is open for another group to adopt.".into()),
                )
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Notice {
        topic,
        audience,
        title,
        body,
        data,
    }))
}

fn pledge_notice(
    conn: &mut DbConnection,
    event: &Event,
    details: &Value,
) -> QueryResult<Option<Notice>> {
    if !matches!(
        event.kind.as_str(),
        "pledge.confirmed" | "pledge.pledged" | "pledge.verified" | "pledge.claim_rejected"
    ) {
        return Ok(None);
    }
    let Some(pledge) = pledge_models::find_pledge(conn, &event.subject_id).optional()? else {
        return Ok(None);
    };
    let Some(pledger) = pledge.account_id.clone() else {
        return Ok(None);
    };
    // An organiser verifying their own pledge needs no telling.
    if event.kind == "pledge.verified" && pledge.verified_by.as_deref() == Some(pledger.as_str()) {
        return Ok(None);
    }
    let mut data = json!({ "pledge_id": pledge.id });
    let target = match (&pledge.opportunity_id, &pledge.issue_id) {
        (Some(id), _) => {
            data["opportunity_id"] = json!(id);
            let opportunity = opportunity_models::find_opportunity(conn, id).optional()?;
            if let Some(group) = opportunity.as_ref().and_then(|o| o.group_id.as_ref()) {
                data["group_id"] = json!(group);
            }
            if let Some(issue) = opportunity.as_ref().and_then(|o| o.issue_id.as_ref()) {
                data["issue_id"] = json!(issue);
            }
            opportunity.map(|o| o.title)
        }
        (None, Some(id)) => {
            data["issue_id"] = json!(id);
            issue_models::find_issue(conn, id)
                .optional()?
                .map(|i| i.title)
        }
        (None, None) => None,
    };
    let target = target.unwrap_or_else(|| "your pledge".to_owned());
    let (title, body) = match event.kind.as_str() {
        "pledge.confirmed" => (
            format!("You're confirmed for {target}"),
            Some("Your place is booked. Thank you for helping!".to_owned()),
        ),
        // Only a waitlist promotion or a condition being met makes a pledge `pledged`
        // after it was made.
        "pledge.pledged" => (
            format!("Your pledge to {target} is on"),
            Some(if pledge.min_pledgers.is_some() {
                "Enough people pledged, so your conditional pledge now counts.".to_owned()
            } else {
                "A place came free for you; the organisers will confirm it.".to_owned()
            }),
        ),
        "pledge.verified" => {
            let hours = pledge.verified_hours.map(format_hours);
            (
                match hours {
                    Some(hours) => format!("{hours} verified for {target}"),
                    None => format!("Your help with {target} was verified"),
                },
                Some("Thank you! It counts towards your participation record.".to_owned()),
            )
        }
        _ => {
            // The reason as the event recorded it, else as the pledge still holds it (a
            // new claim clears it; then the body says what to do instead).
            let reason = details
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(pledge.rejection_reason);
            (
                format!("Your hours for {target} were not verified"),
                Some(match reason {
                    Some(reason) => format!("The organisers said: {}", excerpt(&reason)),
                    None => "Ask the organisers, or claim again with the hours you gave.".into(),
                }),
            )
        }
    };
    Ok(Some(Notice {
        topic: Topic::Pledges,
        audience: vec![pledger],
        title,
        body,
        data,
    }))
}

fn opportunity_notice(
    conn: &mut DbConnection,
    event: &Event,
    details: &Value,
) -> QueryResult<Option<Notice>> {
    if event.kind != "opportunity.cancelled" {
        return Ok(None);
    }
    let audience: Vec<String> = details
        .get("withdrawn_pledgers")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if audience.is_empty() {
        return Ok(None);
    }
    let opportunity = opportunity_models::find_opportunity(conn, &event.subject_id).optional()?;
    let name = details
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| opportunity.as_ref().map(|o| o.title.clone()))
        .unwrap_or_else(|| "An opportunity you pledged to".to_owned());
    let mut data = json!({ "opportunity_id": event.subject_id });
    if let Some(group) = opportunity.as_ref().and_then(|o| o.group_id.as_ref()) {
        data["group_id"] = json!(group);
    }
    Ok(Some(Notice {
        topic: Topic::Opportunities,
        audience,
        title: format!("{name} has been cancelled"),
        body: Some("Your pledge was withdrawn; there is nothing more you need to do.".into()),
        data,
    }))
}

fn group_notice(
    conn: &mut DbConnection,
    event: &Event,
    details: &Value,
) -> QueryResult<Option<Notice>> {
    if event.kind != "group.member_approved" {
        return Ok(None);
    }
    let Some(member) = details.get("account_id").and_then(Value::as_str) else {
        return Ok(None);
    };
    let name =
        models::group_name(conn, &event.subject_id)?.unwrap_or_else(|| "the group".to_owned());
    Ok(Some(Notice {
        topic: Topic::Groups,
        audience: vec![member.to_owned()],
        title: format!("Welcome to {name}"),
        body: Some("Your request to join was approved.".into()),
        data: json!({ "group_id": event.subject_id }),
    }))
}

/// How a status reads after "is now".
fn status_phrase(status: &str) -> String {
    match status {
        "community" => "in the community's hands".into(),
        "resolved" => "resolved by the community".into(),
        "escalated" => "escalated to the council".into(),
        "acknowledged" => "acknowledged by the council".into(),
        "in_progress" => "in progress".into(),
        "fixed" => "fixed".into(),
        "declined" => "declined by the council".into(),
        "reopened" => "reopened".into(),
        other => other.replace('_', " "),
    }
}

/// "2 hours", "1 hour", "2.5 hours".
fn format_hours(hours: f64) -> String {
    let rounded = (hours * 10.0).round() / 10.0;
    let unit = if (rounded - 1.0).abs() < f64::EPSILON {
        "hour"
    } else {
        "hours"
    };
    format!("{rounded} {unit}")
}

/// The start of `text` (whitespace collapsed), cut at a character boundary with `…`.
fn excerpt(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_words() {
        assert_eq!(status_phrase("in_progress"), "in progress");
        assert_eq!(status_phrase("escalated"), "escalated to the council");
        assert_eq!(status_phrase("something_new"), "something new");
    }

    #[test]
    fn hours_are_counted_in_words() {
        assert_eq!(format_hours(1.0), "1 hour");
        assert_eq!(format_hours(2.0), "2 hours");
        assert_eq!(format_hours(2.54), "2.5 hours");
    }

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        assert_eq!(excerpt("  short\n text "), "short text");
        let long = "é".repeat(500);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
        assert!(cut.ends_with('…'));
    }
}
