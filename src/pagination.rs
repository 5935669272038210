//! Cursor pagination: `?limit=` (default 20, max 100) and an opaque `?cursor=`; lists
//! answer `{ "items": [...], "next_cursor": "…" | null }`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
const MAX_CURSOR_LEN: usize = 512;

/// The paging parameters of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page (at most 512 characters).
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl PageQuery {
    /// The validated limit.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::invalid_field(
                "limit",
                "out_of_range",
                format!("Between 1 and {MAX_LIMIT}."),
            )),
        }
    }

    /// The decoded cursor key, if a cursor was given.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        let Some(cursor) = self.cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let invalid = || {
            ApiError::invalid_field("cursor", "invalid_cursor", "Not a cursor this list issued.")
        };
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| invalid())
    }
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows (the extra row only says there is more).
    pub fn from_rows<R, K: Serialize>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

fn encode_cursor<K: Serialize>(key: &K) -> String {
    // serde_json's `float_roundtrip` feature reads a written float back to the bit: a
    // near search's next page starts after (distance, id), so a distance one unit off
    // would skip or repeat the rows at the boundary.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Property tests of the cursor codec (issue 10, "Bad input, at scale"). Bounded here; run
/// them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use chrono::{DateTime, NaiveDateTime};
    use proptest::prelude::*;

    /// The keys the lists page by: ids, (time, id), the moderation queue's key, and the
    /// near searches' (distance, id).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct TimeKey(NaiveDateTime, String);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct QueueKey {
        first: NaiveDateTime,
        target_type: String,
        target_id: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum DistanceKey {
        Distance { d: f64, id: String },
        Newest { before: String },
    }

    fn query(cursor: String) -> PageQuery {
        PageQuery {
            limit: None,
            cursor: Some(cursor),
        }
    }

    /// An id as the lists issue them (UUIDs), or any short text.
    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            any::<String>().prop_map(|s| s.chars().take(40).collect()),
        ]
    }

    fn time() -> impl Strategy<Value = NaiveDateTime> {
        // Year 1 to 9999, to the microsecond (as both databases store them).
        (-62_135_596_800_i64..253_402_300_799, 0_u32..1_000_000).prop_map(|(secs, micros)| {
            DateTime::from_timestamp(secs, micros * 1000)
                .unwrap_or_default()
                .naive_utc()
        })
    }

    /// Text that may or may not be a cursor: anything, base64url of anything, base64url
    /// of JSON-like text, and real cursors with bytes changed.
    fn cursor_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_=+/-]{0,700}",
            proptest::collection::vec(any::<u8>(), 0..400).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            r#"[\[\]{}",:0-9a-z.eE+ -]{0,300}"#.prop_map(|json| URL_SAFE_NO_PAD.encode(json)),
            (id(), any::<u8>(), any::<prop::sample::Index>()).prop_map(|(id, byte, at)| {
                let mut raw = URL_SAFE_NO_PAD
                    .encode(format!("{{\"d\":1.5,\"id\":\"{id}\"}}"))
                    .into_bytes();
                let at = at.index(raw.len());
                raw[at] = byte;
                String::from_utf8_lossy(&raw).into_owned()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a client sends as `cursor`, decoding answers (a key or 422), never panics.
        #[test]
        fn proptest_any_cursor_text_decodes_or_is_refused(raw in cursor_text()) {
            let page = query(raw.clone());
            let _ = page.after::<String>();
            let _ = page.after::<i64>();
            let _ = page.after::<TimeKey>();
            let _ = page.after::<QueueKey>();
            let _ = page.after::<DistanceKey>();
            if raw.len() > MAX_CURSOR_LEN {
                prop_assert!(page.after::<serde_json::Value>().is_err());
            }
        }

        /// Every id cursor a list issues reads back as the same id.
        #[test]
        fn proptest_id_cursors_round_trip(key in id()) {
            let cursor = encode_cursor(&key);
            prop_assert!(cursor.len() <= MAX_CURSOR_LEN);
            prop_assert_eq!(query(cursor).after::<String>().ok().flatten(), Some(key));
        }

        /// Every (time, id) and queue cursor reads back as the same key, to the microsecond.
        #[test]
        fn proptest_time_cursors_round_trip(t in time(), kind in "[a-z_]{1,20}", key in id()) {
            let time_key = TimeKey(t, key.clone());
            let cursor = encode_cursor(&time_key);
            prop_assert!(cursor.len() <= MAX_CURSOR_LEN);
            prop_assert_eq!(query(cursor).after::<TimeKey>().ok().flatten(), Some(time_key));
            let queue_key = QueueKey { first: t, target_type: kind, target_id: key };
            let cursor = encode_cursor(&queue_key);
            prop_assert!(cursor.len() <= MAX_CURSOR_LEN);
            prop_assert_eq!(query(cursor).after::<QueueKey>().ok().flatten(), Some(queue_key));
        }

        /// A near search's cursor keeps its distance to the bit: the next page starts
        /// with `d2 > d OR (d2 = d AND id > …)`, so a distance read back one unit off
        /// would skip or repeat the issues at the page boundary.
        #[test]
        fn proptest_distance_cursors_round_trip_exactly(
            d in prop_oneof![0.0_f64..1.0, 0.0_f64..0.01, any::<f64>().prop_filter("finite", |d| d.is_finite())],
            key in id(),
        ) {
            let distance = DistanceKey::Distance { d, id: key.clone() };
            let cursor = encode_cursor(&distance);
            prop_assert!(cursor.len() <= MAX_CURSOR_LEN);
            let back = query(cursor).after::<DistanceKey>().ok().flatten();
            match back {
                Some(DistanceKey::Distance { d: read, id }) => {
                    prop_assert_eq!(read.to_bits(), d.to_bits(), "{} read back as {}", d, read);
                    prop_assert_eq!(id, key.clone());
                }
                other => prop_assert!(false, "{:?} read back as {:?}", distance, other),
            }
            let newest = DistanceKey::Newest { before: key };
            prop_assert_eq!(query(encode_cursor(&newest)).after::<DistanceKey>().ok().flatten(), Some(newest));
        }
    }
}
