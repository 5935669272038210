//! The community-first lifecycle: the states of an issue and who may move it where.
//!
//! One table, enforced here and documented in the API: anything not in it is refused
//! with 409 and the states the caller could move the issue to instead.

use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Role;

/// Where an issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reported by a resident; the community gets the first chance.
    Reported,
    /// A group adopted it or volunteers pledged: the community is on it.
    Community,
    /// Fixed by the community.
    Resolved,
    /// Handed to the council.
    Escalated,
    /// The council has seen it.
    Acknowledged,
    /// The council is working on it.
    InProgress,
    /// Fixed by the council.
    Fixed,
    /// The council will not act (with a reason).
    Declined,
    /// Reported before: see `duplicate_of`.
    Duplicate,
    /// Resolved or fixed, but back.
    Reopened,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Self::Reported,
        Self::Community,
        Self::Resolved,
        Self::Escalated,
        Self::Acknowledged,
        Self::InProgress,
        Self::Fixed,
        Self::Declined,
        Self::Duplicate,
        Self::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Community => "community",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
            Self::Acknowledged => "acknowledged",
            Self::InProgress => "in_progress",
            Self::Fixed => "fixed",
            Self::Declined => "declined",
            Self::Duplicate => "duplicate",
            Self::Reopened => "reopened",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Open issues still need something done; the others are closed.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Self::Resolved | Self::Fixed | Self::Declined | Self::Duplicate
        )
    }

    /// Handed to the council: escalated, and every state of the council's path after it.
    pub fn is_with_council(self) -> bool {
        matches!(
            self,
            Self::Escalated | Self::Acknowledged | Self::InProgress | Self::Fixed | Self::Declined
        )
    }

    /// The open states, for queries.
    pub fn open_states() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(Self::as_str)
            .collect()
    }
}

/// Who may make a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The resident who reported the issue.
    Reporter,
    /// An organiser of the group that adopted the issue.
    Organiser,
    /// Moderators, officers and admins.
    Staff,
    /// Officers and admins: the council.
    Council,
}

/// One row of the transition table.
pub struct Transition {
    pub from: &'static [Status],
    pub to: Status,
    pub who: &'static [Who],
}

use Status::*;

/// The transition table. Duplicates are marked by moderators and officers (and admins);
/// reopening is allowed for 30 days after an issue closed.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        from: &[Reported],
        to: Community,
        who: &[Who::Staff],
    },
    Transition {
        from: &[Declined],
        to: Community,
        who: &[Who::Reporter, Who::Organiser, Who::Staff],
    },
    Transition {
        from: &[Reported, Community, Reopened],
        to: Resolved,
        who: &[Who::Reporter, Who::Organiser, Who::Staff],
    },
    Transition {
        from: &[Reported, Community, Reopened],
        to: Escalated,
        who: &[Who::Reporter, Who::Organiser, Who::Staff],
    },
    Transition {
        from: &[Escalated],
        to: Acknowledged,
        who: &[Who::Council],
    },
    Transition {
        from: &[Acknowledged],
        to: InProgress,
        who: &[Who::Council],
    },
    Transition {
        from: &[InProgress],
        to: Fixed,
        who: &[Who::Council],
    },
    Transition {
        from: &[Escalated, Acknowledged, InProgress],
        to: Declined,
        who: &[Who::Council],
    },
    Transition {
        from: &[Resolved, Fixed],
        to: Reopened,
        who: &[Who::Reporter, Who::Staff],
    },
    Transition {
        from: &[
            Reported,
            Community,
            Escalated,
            Acknowledged,
            InProgress,
            Reopened,
        ],
        to: Duplicate,
        who: &[Who::Staff],
    },
];

/// How long after closing an issue can be reopened.
pub const REOPEN_WINDOW: TimeDelta = TimeDelta::days(30);

/// The caller, as far as the lifecycle cares.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub role: Role,
    pub is_reporter: bool,
    pub is_organiser: bool,
}

impl Asker {
    fn is(&self, who: Who) -> bool {
        match who {
            Who::Reporter => self.is_reporter,
            Who::Organiser => self.is_organiser,
            Who::Staff => self.role.is_staff(),
            // Duplicates excepted (staff), council transitions are for officers and admins.
            Who::Council => matches!(self.role, Role::Officer | Role::Admin),
        }
    }
}

/// The states `asker` may move an issue in `from` to, now.
pub fn allowed_next(
    from: Status,
    asker: &Asker,
    closed_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Vec<Status> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from.contains(&from) && t.who.iter().any(|w| asker.is(*w)))
        .filter(|t| {
            t.to != Reopened || closed_at.is_none_or(|closed| now - closed <= REOPEN_WINDOW)
        })
        .map(|t| t.to)
        .collect()
}

/// Whether the transition exists at all, whoever asks (to tell 409 from 403).
pub fn exists(from: Status, to: Status) -> bool {
    TRANSITIONS
        .iter()
        .any(|t| t.to == to && t.from.contains(&from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64) -> (Option<NaiveDateTime>, NaiveDateTime) {
        let now = chrono::Utc::now().naive_utc();
        (Some(now - TimeDelta::days(days_ago)), now)
    }

    const CITIZEN: Asker = Asker {
        role: Role::Citizen,
        is_reporter: false,
        is_organiser: false,
    };
    const REPORTER: Asker = Asker {
        role: Role::Citizen,
        is_reporter: true,
        is_organiser: false,
    };
    const OFFICER: Asker = Asker {
        role: Role::Officer,
        is_reporter: false,
        is_organiser: false,
    };
    const MODERATOR: Asker = Asker {
        role: Role::Moderator,
        is_reporter: false,
        is_organiser: false,
    };

    #[test]
    fn a_stranger_may_move_nothing() {
        let now = chrono::Utc::now().naive_utc();
        for status in Status::ALL {
            assert!(
                allowed_next(status, &CITIZEN, None, now).is_empty(),
                "{status:?}"
            );
        }
    }

    #[test]
    fn the_reporter_may_resolve_or_escalate_an_open_community_issue() {
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(
            allowed_next(Reported, &REPORTER, None, now),
            vec![Resolved, Escalated]
        );
        assert!(allowed_next(Escalated, &REPORTER, None, now).is_empty());
    }

    #[test]
    fn only_the_council_works_an_escalated_issue_but_moderators_mark_duplicates() {
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(
            allowed_next(Escalated, &OFFICER, None, now),
            vec![Acknowledged, Declined, Duplicate]
        );
        assert_eq!(
            allowed_next(Escalated, &MODERATOR, None, now),
            vec![Duplicate]
        );
    }

    #[test]
    fn reopening_closes_thirty_days_after_an_issue_closed() {
        let (closed, now) = at(29);
        assert_eq!(allowed_next(Fixed, &REPORTER, closed, now), vec![Reopened]);
        let (closed, now) = at(31);
        assert!(allowed_next(Fixed, &REPORTER, closed, now).is_empty());
    }

    #[test]
    fn closed_states_are_closed() {
        let closed: Vec<_> = Status::ALL.into_iter().filter(|s| !s.is_open()).collect();
        assert_eq!(closed, vec![Resolved, Fixed, Declined, Duplicate]);
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
    }
}
