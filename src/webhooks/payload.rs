//! The fan-out: turns one domain event into a pending delivery for every subscription
//! that wants it and may see it, with the payload built at that moment:
//! `{"type", "timestamp", "data"}`, where `data` is the resource as the REST API shows it
//! to that partner.
//!
//! Who sees what: `issue.*` go to clients with `issues:read` and carry the issue as
//! `GET /issues/{id}` shows it to the public, plus `event` (the timeline entry's id,
//! the actor's role, the statuses), and for clients that also hold `issues:contact`,
//! `reporter_contact` once the issue is with the council and its reporter consents;
//! `opportunity.*` carry the public opportunity (drafts only to the partner that owns
//! them); `pledge.*` go only to the partner whose own opportunity it is, with
//! `pledges:read`; `group.*` never go to partners (they name residents).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use super::models::{self, Target};
use crate::db::schema::opportunities;
use crate::db::{DbConnection, utc};
use crate::events::Event;
use crate::issues::lifecycle::Status;
use crate::partners::Scope;

/// Queues a delivery of each event for every active subscription that wants it and whose
/// client may see it. Runs in the dispatcher's transaction, so the deliveries exist
/// exactly when the events are marked dispatched; the subscriptions are read once for
/// the whole batch.
pub fn fanout(conn: &mut DbConnection, events: &[Event], now: NaiveDateTime) -> QueryResult<()> {
    let active: Vec<Target> = models::active_targets(conn)?;
    if active.is_empty() {
        return Ok(());
    }
    for event in events {
        fanout_one(conn, &active, event, now)?;
    }
    Ok(())
}

fn fanout_one(
    conn: &mut DbConnection,
    active: &[Target],
    event: &Event,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let targets: Vec<&Target> = active
        .iter()
        .filter(|target| target.wants(&event.kind))
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let Some(visible) = visible_data(conn, event)? else {
        return Ok(());
    };
    let envelope = |data: &Value| {
        json!({
            "type": event.kind,
            "timestamp": utc(event.created_at),
            "data": data,
        })
        .to_string()
    };
    let payload = envelope(&visible.data);
    // The same data plus the reporter's contact, for the council's systems only.
    let with_contact = visible.contact.as_ref().map(|contact| {
        let mut data = visible.data.clone();
        if let Some(object) = data.as_object_mut() {
            object.insert("reporter_contact".into(), contact.clone());
        }
        envelope(&data)
    });
    for target in targets.into_iter().filter(|target| visible.may_see(target)) {
        let payload = match &with_contact {
            Some(with_contact) if target.has_scope(Scope::IssuesContact) => with_contact,
            _ => &payload,
        };
        models::queue_delivery(
            conn,
            &target.subscription_id,
            &event.id,
            &event.kind,
            payload,
            now,
        )?;
    }
    Ok(())
}

/// An event's data and who may receive it.
struct Visible {
    data: Value,
    /// The scope a client needs.
    scope: Option<Scope>,
    /// The one client that may receive it, when it is that client's own business.
    owner: Option<String>,
    /// The reporter's contact details for clients with `issues:contact`: only on an
    /// issue with the council whose reporter consents to `contact_council`.
    contact: Option<Value>,
}

impl Visible {
    fn may_see(&self, target: &Target) -> bool {
        self.scope.is_none_or(|scope| target.has_scope(scope))
            && self
                .owner
                .as_ref()
                .is_none_or(|owner| *owner == target.client_id)
    }
}

/// The data of `event` and its audience; `None` when no partner may see it (or what it
/// is about no longer exists).
fn visible_data(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Visible>> {
    match event.subject_type.as_str() {
        "issue" => issue_data(conn, event),
        "opportunity" => opportunity_data(conn, event),
        "pledge" => pledge_data(conn, event),
        "webhook" => webhook_data(conn, event),
        // Group events name residents (who joined, who was approved): never for partners.
        _ => Ok(None),
    }
}

fn to_value(value: impl serde::Serialize) -> QueryResult<Value> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(e.into()))
}

/// A subscription of the partner's that was disabled, with the reason: for the partner
/// alone.
fn webhook_data(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Visible>> {
    let Some(row) = models::find_any_subscription(conn, &event.subject_id)? else {
        return Ok(None);
    };
    let owner = row.client_id.clone();
    let mut data = to_value(crate::webhooks::views::WebhookView::from(row))?;
    if let Some(object) = data.as_object_mut() {
        object.insert("reason".into(), event.details()["reason"].clone());
    }
    Ok(Some(Visible {
        data,
        scope: None,
        owner: Some(owner),
        contact: None,
    }))
}

/// The issue as `GET /issues/{id}` shows it to an anonymous caller, with `event`.
fn issue_data(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Visible>> {
    // A hidden issue is out of public view: partners hear nothing of it.
    let Some(row) = crate::issues::models::find_shown_issue(conn, &event.subject_id).optional()?
    else {
        return Ok(None);
    };
    let with_council = Status::parse(&row.status).is_some_and(Status::is_with_council);
    let contact = match &row.reporter_id {
        Some(reporter) if with_council => {
            crate::privacy::consents::council_contact(conn, reporter)?
        }
        _ => None,
    };
    let detail = crate::issues::routes::detail_of(conn, row, None)?;
    let mut data = to_value(detail)?;
    // Only what the public timeline shows: never the acting account's id (it would
    // unmask an anonymous reporter).
    let details = event.details();
    if let Some(object) = data.as_object_mut() {
        object.insert(
            "event".into(),
            json!({
                "timeline_entry_id": details["timeline_entry_id"],
                "actor_role": details["actor_role"],
                "from_status": details["from_status"],
                "to_status": details["to_status"],
            }),
        );
    }
    Ok(Some(Visible {
        data,
        scope: Some(Scope::IssuesRead),
        owner: None,
        contact,
    }))
}

/// The opportunity as `GET /opportunities/{id}` shows it; drafts only to their partner.
fn opportunity_data(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Visible>> {
    use crate::opportunities::models::{DRAFT, find_opportunity};
    let Some(row) = find_opportunity(conn, &event.subject_id).optional()? else {
        return Ok(None);
    };
    if row.hidden_at.is_some() {
        return Ok(None);
    }
    let owner = partner_of(conn, &row.id)?;
    if row.status == DRAFT && owner.is_none() {
        return Ok(None);
    }
    let owner = owner.filter(|_| row.status == DRAFT);
    let data = to_value(crate::opportunities::views::OpportunityView::from(row))?;
    Ok(Some(Visible {
        data,
        scope: None,
        owner,
        contact: None,
    }))
}

/// The pledge as its organisers see it, only for the partner whose opportunity it is.
fn pledge_data(conn: &mut DbConnection, event: &Event) -> QueryResult<Option<Visible>> {
    use crate::pledges::models::{self as pledges, find_pledge};
    let Some(row) = find_pledge(conn, &event.subject_id).optional()? else {
        return Ok(None);
    };
    let Some(opportunity_id) = row.opportunity_id.clone() else {
        return Ok(None);
    };
    let Some(owner) = partner_of(conn, &opportunity_id)? else {
        return Ok(None);
    };
    let pledgers = if row.min_pledgers.is_some() {
        pledges::live_pledgers(conn, &pledges::Target::Opportunity(opportunity_id))?
    } else {
        0
    };
    let data = to_value(crate::pledges::views::PledgeView::new(row, pledgers))?;
    Ok(Some(Visible {
        data,
        scope: Some(Scope::PledgesRead),
        owner: Some(owner),
        contact: None,
    }))
}

/// The partner client that published an opportunity, if a partner did.
fn partner_of(conn: &mut DbConnection, opportunity_id: &str) -> QueryResult<Option<String>> {
    opportunities::table
        .find(opportunity_id)
        .select(opportunities::partner_client_id)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}
