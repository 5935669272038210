//! The feed's cursor: where a client stands in the change log (and, during its first
//! sync, in the initial snapshot). Opaque to clients: `1.` then base64url of a small JSON
//! document; the version prefix lets the format change without misreading old cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::Entity;
use crate::error::ApiError;

const VERSION: &str = "1.";
const MAX_LEN: usize = 512;
const MAX_ID_LEN: usize = 100;

/// A place in the change log, in its delivery order: by writing transaction (`txid`;
/// always 0 on SQLite), then by row (`seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub txid: i64,
    pub seq: i64,
}

impl Position {
    /// Before every row.
    pub const START: Self = Self { txid: 0, seq: 0 };
}

/// Where a client stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Reading the log after this position.
    Log(Position),
    /// Still receiving the initial snapshot: the kinds from `Entity::ALL[kind]` on, ids
    /// after `after`; then the log after `from`, the position taken when it began.
    Snapshot {
        from: Position,
        kind: usize,
        after: Option<String>,
    },
}

impl Cursor {
    /// The log position the client has reached (for a snapshot, where the log resumes).
    pub fn position(&self) -> Position {
        match self {
            Self::Log(position) | Self::Snapshot { from: position, .. } => *position,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    /// `[txid, seq]`.
    p: (i64, i64),
    /// During the snapshot: `[kind, last id delivered]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<(usize, Option<String>)>,
}

/// The opaque form of a cursor.
pub fn encode(cursor: &Cursor) -> String {
    let position = cursor.position();
    let wire = Wire {
        p: (position.txid, position.seq),
        s: match cursor {
            Cursor::Log(_) => None,
            Cursor::Snapshot { kind, after, .. } => Some((*kind, after.clone())),
        },
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(json))
}

/// Reads a cursor this feed issued; `400 invalid_cursor` for anything else.
pub fn decode(raw: &str) -> Result<Cursor, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_cursor",
            "`since` is not a cursor this feed issued; sync again without `since`.",
        )
    };
    if raw.len() > MAX_LEN {
        return Err(invalid());
    }
    let body = raw.strip_prefix(VERSION).ok_or_else(invalid)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let (txid, seq) = wire.p;
    if txid < 0 || seq < 0 {
        return Err(invalid());
    }
    let position = Position { txid, seq };
    match wire.s {
        None => Ok(Cursor::Log(position)),
        Some((kind, after)) => {
            let after_ok = after
                .as_deref()
                .is_none_or(|id| !id.is_empty() && id.len() <= MAX_ID_LEN);
            if kind >= Entity::ALL.len() || !after_ok {
                return Err(invalid());
            }
            Ok(Cursor::Snapshot {
                from: position,
                kind,
                after,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let log = Cursor::Log(Position { txid: 812, seq: 40 });
        assert_eq!(decode(&encode(&log)).ok(), Some(log));
        let snapshot = Cursor::Snapshot {
            from: Position { txid: 0, seq: 7 },
            kind: 2,
            after: Some("0193-issue".into()),
        };
        assert_eq!(decode(&encode(&snapshot)).ok(), Some(snapshot));
        let start = Cursor::Snapshot {
            from: Position::START,
            kind: 0,
            after: None,
        };
        assert_eq!(decode(&encode(&start)).ok(), Some(start));
    }

    #[test]
    fn anything_else_is_refused() {
        let forged = |json: &str| format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(json));
        for raw in [
            String::new(),
            "garbage".into(),
            "2.eyJwIjpbMCwwXX0".into(),
            "1.!!!".into(),
            forged("{}"),
            forged(r#"{"p":[-1,0]}"#),
            forged(r#"{"p":[0,0],"s":[9,null]}"#),
            forged(r#"{"p":[0,0],"s":[1,""]}"#),
            forged(r#"{"p":[0,0],"x":1}"#),
            "1.".to_owned() + &"A".repeat(600),
        ] {
            assert!(decode(&raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn positions_order_by_transaction_then_row() {
        let early = Position { txid: 5, seq: 90 };
        let late = Position { txid: 6, seq: 3 };
        assert!(early < late);
        assert!(Position::START < early);
    }
}
