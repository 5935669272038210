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

/// Property tests of the cursor codec (issue 10, "Bad input, at scale"). Bounded here; run
/// them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn position() -> impl Strategy<Value = Position> {
        (
            prop_oneof![Just(0_i64), 0..i64::MAX],
            prop_oneof![0_i64..1000, 0..i64::MAX],
        )
            .prop_map(|(txid, seq)| Position { txid, seq })
    }

    /// Every cursor the feed can issue: log positions, and snapshot places with an id of
    /// 1 to 100 bytes (ids are UUIDs; any text is tried).
    fn cursor() -> impl Strategy<Value = Cursor> {
        let id = prop_oneof![
            "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            any::<String>().prop_filter("1 to 100 bytes", |id| {
                !id.is_empty() && id.len() <= MAX_ID_LEN
            }),
        ];
        prop_oneof![
            position().prop_map(Cursor::Log),
            (position(), 0..Entity::ALL.len(), proptest::option::of(id))
                .prop_map(|(from, kind, after)| Cursor::Snapshot { from, kind, after }),
        ]
    }

    /// Text that may or may not be a cursor: anything, `1.` and base64url of anything or
    /// of JSON-like text, and real cursors with one byte changed.
    fn cursor_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(1\\.)?[A-Za-z0-9_=+/-]{0,700}",
            proptest::collection::vec(any::<u8>(), 0..400)
                .prop_map(|bytes| format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(bytes))),
            r#"\{"[ps]":[\[\]{}",:0-9a-z.eE+ -]{0,200}"#
                .prop_map(|json| format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(json))),
            (cursor(), any::<u8>(), any::<prop::sample::Index>()).prop_map(|(c, byte, at)| {
                let mut raw = encode(&c).into_bytes();
                let at = at.index(raw.len());
                raw[at] = byte;
                String::from_utf8_lossy(&raw).into_owned()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a client sends as `since`, decoding answers (a cursor or 400), never
        /// panics, and what it accepts is a place the feed could have issued.
        #[test]
        fn proptest_any_since_decodes_or_is_refused(raw in cursor_text()) {
            if let Ok(cursor) = decode(&raw) {
                prop_assert!(raw.len() <= MAX_LEN);
                let position = cursor.position();
                prop_assert!(position.txid >= 0 && position.seq >= 0);
                if let Cursor::Snapshot { kind, after, .. } = &cursor {
                    prop_assert!(*kind < Entity::ALL.len());
                    prop_assert!(after.as_ref().is_none_or(|id| !id.is_empty() && id.len() <= MAX_ID_LEN));
                }
                // What was accepted re-encodes to a cursor that reads back the same.
                prop_assert_eq!(decode(&encode(&cursor)).ok(), Some(cursor));
            }
        }

        /// Every cursor the feed issues is short enough and reads back as itself.
        #[test]
        fn proptest_cursors_round_trip(cursor in cursor()) {
            let raw = encode(&cursor);
            prop_assert!(raw.len() <= MAX_LEN, "{} bytes", raw.len());
            prop_assert!(raw.starts_with(VERSION));
            prop_assert_eq!(decode(&raw).ok(), Some(cursor));
        }
    }
}
