//! Partner clients: charities and the council's own systems, which integrate by API and
//! act for their organisation, never as a citizen. OAuth 2 client credentials (RFC 6749
//! §4.4) with scopes; the client secret doubles as the Open311 `api_key`.

pub mod extractor;
pub mod models;
pub mod routes;
pub mod views;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use extractor::{Caller, CallerToCheck, PartnerClient};

/// What a partner client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    /// Read issues as the public sees them, plus the partner's own reports.
    #[serde(rename = "issues:read")]
    IssuesRead,
    /// Report issues on behalf of residents, with the partner recorded.
    #[serde(rename = "issues:write")]
    IssuesWrite,
    /// With `issues:read`: receive, in issue events, the contact details of reporters who
    /// agreed to share them with the council (consent `contact_council`), once the issue is
    /// escalated to the council. For the council's own systems.
    #[serde(rename = "issues:contact")]
    IssuesContact,
    /// Publish calls for volunteers as the partner organisation.
    #[serde(rename = "opportunities:write")]
    OpportunitiesWrite,
    /// Read pledges to the partner's own opportunities.
    #[serde(rename = "pledges:read")]
    PledgesRead,
    /// Manage webhook subscriptions.
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    /// Submit Open311 service requests with the client secret as `api_key`.
    #[serde(rename = "open311:submit")]
    Open311Submit,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Self::IssuesRead,
        Self::IssuesWrite,
        Self::IssuesContact,
        Self::OpportunitiesWrite,
        Self::PledgesRead,
        Self::WebhooksManage,
        Self::Open311Submit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IssuesRead => "issues:read",
            Self::IssuesWrite => "issues:write",
            Self::IssuesContact => "issues:contact",
            Self::OpportunitiesWrite => "opportunities:write",
            Self::PledgesRead => "pledges:read",
            Self::WebhooksManage => "webhooks:manage",
            Self::Open311Submit => "open311:submit",
        }
    }

    /// What the scope allows, for the documentation.
    pub fn description(self) -> &'static str {
        match self {
            Self::IssuesRead => "Read issues",
            Self::IssuesWrite => "Report issues for residents, with the partner recorded",
            Self::IssuesContact => {
                "Receive reporters' contact details they agreed to share with the council"
            }
            Self::OpportunitiesWrite => "Publish calls for volunteers as the partner",
            Self::PledgesRead => "Read pledges to the partner's own opportunities",
            Self::WebhooksManage => "Manage webhook subscriptions",
            Self::Open311Submit => "Submit Open311 service requests (the secret is the api_key)",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }

    /// Parses a space- (or comma-) separated list; `Err` names the first unknown scope.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        let mut scopes = Vec::new();
        for word in raw.split([' ', ',']).filter(|w| !w.is_empty()) {
            let scope = Self::parse(word).ok_or_else(|| word.to_owned())?;
            scopes.push(scope);
        }
        Ok(normalise(scopes))
    }

    /// The stored and granted form: sorted, without repeats, space-separated.
    pub fn join(scopes: &[Self]) -> String {
        normalise(scopes.to_vec())
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Sorted, without repeats.
pub fn normalise(mut scopes: Vec<Scope>) -> Vec<Scope> {
    scopes.sort();
    scopes.dedup();
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_normalise_and_name_the_unknown() {
        let scopes = Scope::parse_list("open311:submit issues:read,issues:read").unwrap();
        assert_eq!(scopes, vec![Scope::IssuesRead, Scope::Open311Submit]);
        assert_eq!(Scope::join(&scopes), "issues:read open311:submit");
        assert_eq!(
            Scope::parse_list("issues:read issues:delete").unwrap_err(),
            "issues:delete"
        );
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }
}
