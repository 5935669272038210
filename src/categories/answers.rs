//! Validating answers to a category's questions, from JSON (`answers` of a report) or
//! from Open311's form encoding (`attribute[CODE]=v`, `attribute[CODE][]=a&…`).
//!
//! Errors name the field `answers.<code>`. The answers come back normalised: trimmed
//! strings, numbers as JSON numbers, times in UTC with `Z`, lists as arrays of keys; only
//! answered questions appear.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};

use super::models::{Datatype, Question};
use crate::error::FieldError;

/// The longest answer to a `string` question, in characters.
pub const MAX_STRING_LEN: usize = 500;
/// The longest answer to a `text` question, in characters.
pub const MAX_TEXT_LEN: usize = 4000;

/// Checks JSON answers against `questions` and returns them normalised.
pub fn validate_answers(
    questions: &[Question],
    answers: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut valid = Map::new();
    for question in questions {
        let field = field_name(&question.code);
        match answers.get(&question.code).filter(|value| !is_empty(value)) {
            None if question.required => errors.push(FieldError::new(
                &field,
                "required",
                "This question must be answered.",
            )),
            None => {}
            Some(value) => match normalise(question, value) {
                Ok(value) => {
                    valid.insert(question.code.clone(), value);
                }
                Err((code, message)) => errors.push(FieldError::new(&field, code, message)),
            },
        }
    }
    for code in answers.keys() {
        if !questions.iter().any(|question| &question.code == code) {
            errors.push(FieldError::new(
                &field_name(code),
                "unknown_question",
                "This category asks no such question.",
            ));
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(errors)
    }
}

/// Checks form-encoded answers (each question code with the strings sent for it) against
/// `questions`, converting each string to its question's datatype; the rules are those of
/// [`validate_answers`].
pub fn validate_answer_strings(
    questions: &[Question],
    answers: &[(String, Vec<String>)],
) -> Result<Map<String, Value>, Vec<FieldError>> {
    // The same code sent twice (`attribute[a][]=x&attribute[a]=y`) counts as one list.
    let mut gathered: Vec<(&str, Vec<&str>)> = Vec::new();
    for (code, values) in answers {
        let values = values
            .iter()
            .map(|value| value.trim())
            .filter(|v| !v.is_empty());
        match gathered.iter_mut().find(|(seen, _)| seen == code) {
            Some((_, all)) => all.extend(values),
            None => gathered.push((code, values.collect())),
        }
    }
    let mut errors = Vec::new();
    let mut json = Map::new();
    for (code, values) in gathered {
        let list = questions
            .iter()
            .find(|question| question.code == code)
            .is_some_and(|question| question.datatype == Datatype::MultiValueList);
        let value = match values.as_slice() {
            [] => Value::Null,
            [one] if !list => Value::String((*one).to_owned()),
            _ if !list => {
                errors.push(FieldError::new(
                    &field_name(code),
                    "too_many_values",
                    "This question takes a single value.",
                ));
                continue;
            }
            many => Value::Array(
                many.iter()
                    .map(|v| Value::String((*v).to_owned()))
                    .collect(),
            ),
        };
        json.insert(code.to_owned(), value);
    }
    match validate_answers(questions, &json) {
        Ok(valid) if errors.is_empty() => Ok(valid),
        Ok(_) => Err(errors),
        Err(more) => {
            // A question already refused above is not also reported as unanswered.
            let refused: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            errors.extend(more.into_iter().filter(|e| !refused.contains(&e.field)));
            Err(errors)
        }
    }
}

fn field_name(code: &str) -> String {
    format!("answers.{code}")
}

/// An answer that says nothing: null, blank, or an empty list.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

type Invalid = (&'static str, String);

fn normalise(question: &Question, value: &Value) -> Result<Value, Invalid> {
    match question.datatype {
        Datatype::String => text(value, MAX_STRING_LEN),
        Datatype::Text => text(value, MAX_TEXT_LEN),
        Datatype::Number => number(value),
        Datatype::Datetime => datetime(value),
        Datatype::SingleValueList => {
            let key = string(value, "Must be one of the question's keys, as a string.")?;
            choice(question, key).map(Value::String)
        }
        Datatype::MultiValueList => {
            let keys: Vec<&str> = match value {
                Value::String(key) => vec![key.as_str()],
                Value::Array(items) => items
                    .iter()
                    .map(|item| string(item, "Must be a list of the question's keys."))
                    .collect::<Result<_, _>>()?,
                _ => return Err(invalid_type("Must be a list of the question's keys.")),
            };
            let mut chosen = Vec::with_capacity(keys.len());
            for key in keys {
                let key = choice(question, key)?;
                if chosen.contains(&key) {
                    return Err(("duplicate_choice", format!("`{key}` is chosen twice.")));
                }
                chosen.push(key);
            }
            Ok(Value::Array(
                chosen.into_iter().map(Value::String).collect(),
            ))
        }
    }
}

fn invalid_type(message: &str) -> Invalid {
    ("invalid_type", message.to_owned())
}

fn string<'a>(value: &'a Value, message: &str) -> Result<&'a str, Invalid> {
    value.as_str().ok_or_else(|| invalid_type(message))
}

fn text(value: &Value, max: usize) -> Result<Value, Invalid> {
    let text = string(value, "Must be a string.")?.trim();
    if text.chars().count() > max {
        return Err(("too_long", format!("At most {max} characters.")));
    }
    Ok(Value::String(text.to_owned()))
}

fn number(value: &Value) -> Result<Value, Invalid> {
    let invalid = || ("invalid_number", "Must be a finite number.".to_owned());
    match value {
        Value::Number(number) => Ok(Value::Number(number.clone())),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(integer) = text.parse::<i64>() {
                return Ok(Value::Number(integer.into()));
            }
            // `f64::from_str` also reads "inf" and "NaN"; only finite values are numbers.
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(invalid)
        }
        _ => Err(invalid()),
    }
}

fn datetime(value: &Value) -> Result<Value, Invalid> {
    let invalid = || {
        (
            "invalid_datetime",
            "Must be an RFC 3339 date and time with a zone, like 2026-11-23T14:30:00Z.".to_owned(),
        )
    };
    let text = value.as_str().ok_or_else(invalid)?.trim();
    let time = DateTime::parse_from_rfc3339(text).map_err(|_| invalid())?;
    Ok(Value::String(
        time.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ))
}

fn choice(question: &Question, key: &str) -> Result<String, Invalid> {
    let key = key.trim();
    if question.allows(key) {
        Ok(key.to_owned())
    } else {
        let keys: Vec<&str> = question.values.iter().map(|v| v.key.as_str()).collect();
        Err((
            "invalid_choice",
            format!("Must be one of: {}.", keys.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::categories::models::QuestionValue;
    use serde_json::json;

    fn question(code: &str, datatype: Datatype, required: bool, keys: &[&str]) -> Question {
        Question {
            code: code.to_owned(),
            datatype,
            required,
            description: format!("About {code}?"),
            order: 0,
            values: keys
                .iter()
                .map(|key| QuestionValue {
                    key: (*key).to_owned(),
                    name: key.to_uppercase(),
                })
                .collect(),
        }
    }

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn one_error(questions: &[Question], answers: Value) -> FieldError {
        let errors = validate_answers(questions, &map(answers)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    fn accepted(question: Question, answer: Value) -> Value {
        let code = question.code.clone();
        let valid = validate_answers(&[question], &map(json!({ &code: answer }))).unwrap();
        valid[&code].clone()
    }

    fn refused(question: Question, answer: Value) -> String {
        let code = question.code.clone();
        let error = one_error(&[question], json!({ &code: answer }));
        assert_eq!(error.field, format!("answers.{code}"));
        error.code
    }

    #[test]
    fn an_unknown_question_is_named() {
        let error = one_error(
            &[question("size", Datatype::String, false, &[])],
            json!({"colour": "red"}),
        );
        assert_eq!(error.field, "answers.colour");
        assert_eq!(error.code, "unknown_question");
    }

    #[test]
    fn a_required_question_must_be_answered() {
        let questions = [question("size", Datatype::String, true, &[])];
        for answers in [
            json!({}),
            json!({"size": null}),
            json!({"size": "  "}),
            json!({"size": []}),
        ] {
            let error = one_error(&questions, answers);
            assert_eq!(
                (error.field.as_str(), error.code.as_str()),
                ("answers.size", "required")
            );
        }
    }

    #[test]
    fn optional_questions_left_blank_are_left_out() {
        let questions = [
            question("note", Datatype::String, false, &[]),
            question("items", Datatype::MultiValueList, false, &["a"]),
        ];
        let valid = validate_answers(&questions, &map(json!({"note": " ", "items": []}))).unwrap();
        assert!(valid.is_empty());
    }

    #[test]
    fn strings_are_trimmed_and_at_most_500_characters() {
        let q = || question("note", Datatype::String, false, &[]);
        assert_eq!(
            accepted(q(), json!("  by the bus stop ")),
            json!("by the bus stop")
        );
        assert_eq!(
            accepted(q(), json!("é".repeat(500))),
            json!("é".repeat(500))
        );
        assert_eq!(refused(q(), json!("x".repeat(501))), "too_long");
        assert_eq!(refused(q(), json!(12)), "invalid_type");
    }

    #[test]
    fn texts_are_at_most_4000_characters() {
        let q = || question("more", Datatype::Text, false, &[]);
        assert_eq!(
            accepted(q(), json!("x".repeat(4000))),
            json!("x".repeat(4000))
        );
        assert_eq!(refused(q(), json!("x".repeat(4001))), "too_long");
        assert_eq!(refused(q(), json!({"a": 1})), "invalid_type");
    }

    #[test]
    fn numbers_are_finite_and_numeric_strings_become_numbers() {
        let q = || question("depth", Datatype::Number, false, &[]);
        assert_eq!(accepted(q(), json!(7)), json!(7));
        assert_eq!(accepted(q(), json!(-2.5)), json!(-2.5));
        assert_eq!(accepted(q(), json!("12.5")), json!(12.5));
        assert_eq!(accepted(q(), json!(" 12 ")), json!(12));
        for bad in [
            json!("twelve"),
            json!("NaN"),
            json!("inf"),
            json!("1e999"),
            json!(true),
        ] {
            assert_eq!(refused(q(), bad), "invalid_number");
        }
    }

    #[test]
    fn datetimes_need_a_zone_and_are_stored_in_utc() {
        let q = || question("seen", Datatype::Datetime, false, &[]);
        assert_eq!(
            accepted(q(), json!("2026-11-23T15:30:00+01:00")),
            json!("2026-11-23T14:30:00Z")
        );
        assert_eq!(
            accepted(q(), json!("2026-11-23T14:30:00.250Z")),
            json!("2026-11-23T14:30:00.250Z")
        );
        for bad in [
            json!("2026-11-23T14:30:00"),
            json!("2026-11-23"),
            json!("yesterday"),
            json!(1),
        ] {
            assert_eq!(refused(q(), bad), "invalid_datetime");
        }
    }

    #[test]
    fn a_single_value_list_takes_one_of_its_keys() {
        let q = || question("size", Datatype::SingleValueList, true, &["small", "large"]);
        assert_eq!(accepted(q(), json!("large")), json!("large"));
        assert_eq!(refused(q(), json!("huge")), "invalid_choice");
        assert_eq!(refused(q(), json!(["small"])), "invalid_type");
    }

    #[test]
    fn a_multi_value_list_takes_distinct_keys_or_a_single_key() {
        let q = || question("items", Datatype::MultiValueList, true, &["bags", "tyres"]);
        assert_eq!(
            accepted(q(), json!(["tyres", "bags"])),
            json!(["tyres", "bags"])
        );
        assert_eq!(accepted(q(), json!("bags")), json!(["bags"]));
        assert_eq!(refused(q(), json!(["bags", "bags"])), "duplicate_choice");
        assert_eq!(refused(q(), json!(["bags", "sofa"])), "invalid_choice");
        assert_eq!(refused(q(), json!(["bags", 3])), "invalid_type");
        assert_eq!(refused(q(), json!(3)), "invalid_type");
    }

    #[test]
    fn every_invalid_answer_is_reported() {
        let questions = [
            question("size", Datatype::SingleValueList, true, &["small"]),
            question("depth", Datatype::Number, false, &[]),
        ];
        let errors = validate_answers(&questions, &map(json!({"depth": "deep", "colour": "red"})))
            .unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("answers.size", "required"),
                ("answers.depth", "invalid_number"),
                ("answers.colour", "unknown_question"),
            ]
        );
    }

    fn form(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(code, values)| {
                (
                    (*code).to_owned(),
                    values.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn form_answers_are_converted_to_their_datatypes() {
        let questions = [
            question("size", Datatype::SingleValueList, true, &["small", "large"]),
            question("depth", Datatype::Number, false, &[]),
            question("seen", Datatype::Datetime, false, &[]),
            question("items", Datatype::MultiValueList, false, &["bags", "tyres"]),
            question("note", Datatype::String, false, &[]),
        ];
        let valid = validate_answer_strings(
            &questions,
            &form(&[
                ("size", &["small"]),
                ("depth", &["4.5"]),
                ("seen", &["2026-11-23T15:30:00+01:00"]),
                ("items", &["bags"]),
                ("items", &["tyres"]),
                ("note", &[""]),
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(valid),
            json!({
                "size": "small",
                "depth": 4.5,
                "seen": "2026-11-23T14:30:00Z",
                "items": ["bags", "tyres"],
            })
        );
    }

    #[test]
    fn form_answers_follow_the_same_rules() {
        let questions = [
            question("size", Datatype::SingleValueList, true, &["small"]),
            question("depth", Datatype::Number, true, &[]),
            question("items", Datatype::MultiValueList, false, &["bags"]),
        ];
        let errors = validate_answer_strings(
            &questions,
            &form(&[
                ("depth", &["1", "2"]),
                ("items", &["bags", "bags"]),
                ("colour", &["red"]),
            ]),
        )
        .unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("answers.depth", "too_many_values"),
                ("answers.size", "required"),
                ("answers.items", "duplicate_choice"),
                ("answers.colour", "unknown_question"),
            ]
        );
    }
}

/// Property tests of the answer decoding (issue 10, "Bad input, at scale"). Bounded here;
/// run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::categories::models::QuestionValue;
    use chrono::FixedOffset;
    use proptest::prelude::*;

    const DATATYPES: [Datatype; 6] = [
        Datatype::String,
        Datatype::Number,
        Datatype::Datetime,
        Datatype::Text,
        Datatype::SingleValueList,
        Datatype::MultiValueList,
    ];

    fn question(code: String, datatype: Datatype, required: bool, keys: Vec<String>) -> Question {
        let list = matches!(
            datatype,
            Datatype::SingleValueList | Datatype::MultiValueList
        );
        Question {
            description: format!("About {code}?"),
            code,
            datatype,
            required,
            order: 0,
            values: if list { keys } else { Vec::new() }
                .into_iter()
                .map(|key| QuestionValue {
                    name: key.to_uppercase(),
                    key,
                })
                .collect(),
        }
    }

    /// A category's questions: distinct codes from a small set (so answers hit them).
    fn questions() -> impl Strategy<Value = Vec<Question>> {
        proptest::collection::vec(
            (
                "[a-d]",
                prop::sample::select(DATATYPES.to_vec()),
                any::<bool>(),
                proptest::collection::btree_set("[a-z]{1,3}", 1..5),
            ),
            0..6,
        )
        .prop_map(|questions| {
            let mut seen = Vec::new();
            questions
                .into_iter()
                .filter(|(code, ..)| {
                    let fresh = !seen.contains(code);
                    seen.push(code.clone());
                    fresh
                })
                .map(|(code, datatype, required, keys)| {
                    question(code, datatype, required, keys.into_iter().collect())
                })
                .collect()
        })
    }

    /// What a form may send for a value: anything, numbers, times, keys, padded.
    fn form_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z]{1,3}",
            r"[ \t]{0,2}[-+]?[0-9]{0,25}(\.[0-9]{0,20})?([eE][-+]?[0-9]{1,4})?[ \t]{0,2}",
            "(?i)(nan|inf|infinity|-inf)",
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?(Z|[-+][0-9]{2}:[0-9]{2})",
            Just(String::new()),
            "[ \t\n]{1,3}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a form answers, checking never panics; what it accepts answers only
        /// questions asked, every required one, each in its datatype's normal form.
        #[test]
        fn proptest_form_answers_are_checked_or_refused(
            questions in questions(),
            answers in proptest::collection::vec(("[a-e]", proptest::collection::vec(form_value(), 0..4)), 0..8),
        ) {
            let Ok(valid) = validate_answer_strings(&questions, &answers) else {
                return Ok(());
            };
            for (code, value) in &valid {
                let question = questions.iter().find(|q| &q.code == code);
                prop_assert!(question.is_some(), "{} was not asked", code);
                let Some(question) = question else { continue };
                match question.datatype {
                    Datatype::String | Datatype::Text => {
                        let text = value.as_str().unwrap_or_default();
                        let max = if question.datatype == Datatype::String { MAX_STRING_LEN } else { MAX_TEXT_LEN };
                        prop_assert!(!text.is_empty() && text.trim() == text && text.chars().count() <= max);
                    }
                    Datatype::Number => prop_assert!(value.as_f64().is_some_and(f64::is_finite), "{}", value),
                    Datatype::Datetime => {
                        let text = value.as_str().unwrap_or_default();
                        prop_assert!(text.ends_with('Z') && DateTime::parse_from_rfc3339(text).is_ok(), "{}", text);
                    }
                    Datatype::SingleValueList => {
                        prop_assert!(value.as_str().is_some_and(|key| question.allows(key)));
                    }
                    Datatype::MultiValueList => {
                        let keys: Vec<&str> = value.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                        prop_assert!(!keys.is_empty() && keys.iter().all(|key| question.allows(key)));
                        let mut distinct = keys.clone();
                        distinct.sort_unstable();
                        distinct.dedup();
                        prop_assert_eq!(distinct.len(), keys.len());
                    }
                }
            }
            for question in questions.iter().filter(|q| q.required) {
                prop_assert!(valid.contains_key(&question.code), "{} unanswered", question.code);
            }
        }

        /// A valid answer to each datatype, written as a form writes it (padded with
        /// blanks), reads back as its normal form: numbers as the same number, times as the
        /// same instant in UTC, keys as sent.
        #[test]
        fn proptest_form_answers_round_trip(
            text in "[a-zA-Z0-9 ]{0,40}[a-z]",
            whole in any::<i64>(),
            float in any::<f64>().prop_filter("finite", |f| f.is_finite()),
            secs in -62_135_596_800_i64 + 86_400..253_402_300_799 - 86_400,
            nanos in 0_u32..1_000_000_000,
            offset_minutes in -1439_i32..1440,
            keys in proptest::collection::btree_set("[a-z]{1,3}", 1..5),
            chosen in any::<prop::sample::Index>(),
            pad in "[ \t]{0,2}",
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let one = keys[chosen.index(keys.len())].clone();
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap_or_else(|| unreachable!());
            let time = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
            let questions = [
                question("s".into(), Datatype::String, true, vec![]),
                question("w".into(), Datatype::Number, true, vec![]),
                question("f".into(), Datatype::Number, true, vec![]),
                question("t".into(), Datatype::Datetime, true, vec![]),
                question("k".into(), Datatype::SingleValueList, true, keys.clone()),
                question("m".into(), Datatype::MultiValueList, true, keys.clone()),
            ];
            let padded = |value: &str| format!("{pad}{value}{pad}");
            let answers = vec![
                ("s".to_owned(), vec![padded(&text)]),
                ("w".to_owned(), vec![padded(&whole.to_string())]),
                ("f".to_owned(), vec![padded(&float.to_string())]),
                ("t".to_owned(), vec![padded(&time.with_timezone(&offset).to_rfc3339())]),
                ("k".to_owned(), vec![padded(&one)]),
                ("m".to_owned(), keys.iter().map(|key| padded(key)).collect()),
            ];
            let valid = validate_answer_strings(&questions, &answers);
            prop_assert!(valid.is_ok(), "{:?}", valid);
            let valid = valid.unwrap_or_default();
            prop_assert_eq!(&valid["s"], &Value::String(text.trim().to_owned()));
            prop_assert_eq!(valid["w"].as_i64(), Some(whole));
            // (`-0` reads as the whole number 0, which is equal.)
            prop_assert_eq!(valid["f"].as_f64(), Some(float), "{}", float);
            let read = valid["t"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            prop_assert_eq!(read, Some(time.fixed_offset()));
            prop_assert_eq!(&valid["k"], &Value::String(one));
            prop_assert_eq!(&valid["m"], &Value::Array(keys.into_iter().map(Value::String).collect()));
        }
    }
}
