//! Validated domain values. No diesel or actix here: a value of these types has been
//! checked once, at the edge, and can be trusted everywhere after.

mod account;
mod group;
mod issue;

pub use account::{DisplayName, Email, NewPassword, Role};
pub use group::{
    GroupArea, GroupName, JoinPolicy, MemberRole, MemberStatus, Radius, Tags, tag_key,
};
pub use issue::{Address, Coordinates, Description, Note, PledgeNote, Title, parse_bbox};
