//! Request and response bodies of the category routes, and the checks that turn requests
//! into a [`NewCategory`] or [`CategoryChanges`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::{Category, CategoryChanges, HandledBy, NewCategory, Question, QuestionValue};
use crate::db::utc;
use crate::error::FieldError;

/// A category as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    /// The category's stable identifier (Open311 `service_code`).
    #[schema(example = "pothole")]
    pub code: String,
    #[schema(example = "Pothole")]
    pub name: String,
    #[schema(example = "A hole or broken surface in a road or cycle lane.")]
    pub description: String,
    /// A heading to list it under; may be empty.
    #[schema(example = "Roads")]
    pub group: String,
    /// Words that should find it in a search.
    #[schema(example = json!(["road", "hole"]))]
    pub keywords: Vec<String>,
    pub handled_by: HandledBy,
    /// What someone fixing it themselves should know; may be empty.
    pub safety_notes: String,
    /// Inactive categories take no new reports and are shown to officers only.
    pub active: bool,
    /// The questions asked when reporting, in order.
    pub questions: Vec<Question>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Category> for CategoryView {
    fn from(category: Category) -> Self {
        Self {
            code: category.code,
            name: category.name,
            description: category.description,
            group: category.group_name,
            keywords: category.keywords,
            handled_by: category.handled_by,
            safety_notes: category.safety_notes,
            active: category.active,
            questions: category.questions,
            created_at: utc(category.created_at),
            updated_at: utc(category.updated_at),
        }
    }
}

/// Which categories to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCategoriesQuery {
    /// Also list inactive categories. Officers and admins only.
    #[param(default = false)]
    pub include_inactive: Option<bool>,
}

/// A new category. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryRequest {
    /// The stable identifier: 2 to 50 characters of `a-z`, `0-9`, `_` and `-`. Cannot change.
    #[schema(
        example = "broken_sign",
        min_length = 2,
        max_length = 50,
        pattern = "^[a-z0-9_-]{2,50}$"
    )]
    pub code: String,
    /// 1 to 100 characters once trimmed, on one line.
    #[schema(example = "Broken road sign", min_length = 1, max_length = 100)]
    pub name: String,
    /// At most 2000 characters once trimmed. Default empty.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// A heading to list it under, at most 100 characters once trimmed, on one line.
    /// Default empty.
    #[schema(example = "Roads", max_length = 100)]
    pub group: Option<String>,
    /// At most 20 words, each 1 to 50 characters once trimmed, on one line, without commas.
    #[schema(example = json!(["sign", "bent"]), max_items = 20, min_length = 1, max_length = 50)]
    pub keywords: Option<Vec<String>>,
    pub handled_by: HandledBy,
    /// At most 2000 characters once trimmed. Default empty.
    #[schema(max_length = 2000)]
    pub safety_notes: Option<String>,
    /// Default `true`.
    pub active: Option<bool>,
    /// At most 30, with unique codes. List datatypes need 1 to 100 values with unique keys;
    /// other datatypes take none.
    #[schema(max_items = 30)]
    pub questions: Option<Vec<Question>>,
}

/// Changes to a category. Fields left out stay as they are; the `code` cannot change, and
/// a body naming it (or any other unknown field) is refused. Categories are never deleted
/// (issues refer to them): deactivate one with `active: false`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategoryRequest {
    /// 1 to 100 characters once trimmed, on one line.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// At most 2000 characters once trimmed.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// At most 100 characters once trimmed, on one line.
    #[schema(max_length = 100)]
    pub group: Option<String>,
    /// Replaces every keyword: at most 20, each 1 to 50 characters once trimmed, on one
    /// line, without commas.
    #[schema(max_items = 20, min_length = 1, max_length = 50)]
    pub keywords: Option<Vec<String>>,
    pub handled_by: Option<HandledBy>,
    /// At most 2000 characters once trimmed.
    #[schema(max_length = 2000)]
    pub safety_notes: Option<String>,
    pub active: Option<bool>,
    /// Replaces all the questions: at most 30, as on creation.
    #[schema(max_items = 30)]
    pub questions: Option<Vec<Question>>,
}

const MAX_NAME_LEN: usize = 100;
const MAX_DESCRIPTION_LEN: usize = 2000;
const MAX_GROUP_LEN: usize = 100;
const MAX_KEYWORDS: usize = 20;
const MAX_KEYWORD_LEN: usize = 50;
const MAX_SAFETY_NOTES_LEN: usize = 2000;
const MAX_QUESTIONS: usize = 30;
const MAX_QUESTION_CODE_LEN: usize = 50;
const MAX_QUESTION_DESCRIPTION_LEN: usize = 500;
const MAX_VALUES: usize = 100;
const MAX_VALUE_KEY_LEN: usize = 100;
const MAX_VALUE_NAME_LEN: usize = 200;

impl TryFrom<CreateCategoryRequest> for NewCategory {
    type Error = Vec<FieldError>;

    fn try_from(request: CreateCategoryRequest) -> Result<Self, Self::Error> {
        let mut errors = Errors::default();
        let code = errors.check(parse_code(&request.code));
        let changes = errors.extend(parse_changes(UpdateCategoryRequest {
            name: Some(request.name),
            description: request.description,
            group: request.group,
            keywords: request.keywords,
            handled_by: Some(request.handled_by),
            safety_notes: request.safety_notes,
            active: request.active,
            questions: request.questions,
        }));
        match (code, changes) {
            (Some(code), Some(changes)) if errors.0.is_empty() => Ok(Self {
                code,
                name: changes.name.unwrap_or_default(),
                description: changes.description.unwrap_or_default(),
                group_name: changes.group_name.unwrap_or_default(),
                keywords: changes.keywords.unwrap_or_default(),
                handled_by: changes.handled_by.unwrap_or(HandledBy::Either),
                safety_notes: changes.safety_notes.unwrap_or_default(),
                active: changes.active.unwrap_or(true),
                questions: changes.questions.unwrap_or_default(),
            }),
            _ => Err(errors.0),
        }
    }
}

impl TryFrom<UpdateCategoryRequest> for CategoryChanges {
    type Error = Vec<FieldError>;

    fn try_from(request: UpdateCategoryRequest) -> Result<Self, Self::Error> {
        parse_changes(request)
    }
}

/// Collects the field errors of a request, so one answer names every invalid field.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    fn extend<T>(&mut self, result: Result<T, Vec<FieldError>>) -> Option<T> {
        result.map_err(|errors| self.0.extend(errors)).ok()
    }

    fn optional(
        &mut self,
        value: Option<String>,
        parse: impl FnOnce(&str) -> Result<String, FieldError>,
    ) -> Option<String> {
        value.and_then(|value| self.check(parse(&value)))
    }
}

fn parse_changes(request: UpdateCategoryRequest) -> Result<CategoryChanges, Vec<FieldError>> {
    let mut errors = Errors::default();
    let changes = CategoryChanges {
        name: errors.optional(request.name, |name| line("name", name, 1, MAX_NAME_LEN)),
        description: errors.optional(request.description, |text| {
            paragraphs("description", text, MAX_DESCRIPTION_LEN)
        }),
        group_name: errors.optional(request.group, |group| {
            line("group", group, 0, MAX_GROUP_LEN)
        }),
        keywords: request
            .keywords
            .and_then(|keywords| errors.extend(parse_keywords(keywords))),
        handled_by: request.handled_by,
        safety_notes: errors.optional(request.safety_notes, |text| {
            paragraphs("safety_notes", text, MAX_SAFETY_NOTES_LEN)
        }),
        active: request.active,
        questions: request
            .questions
            .and_then(|questions| errors.extend(parse_questions(questions))),
    };
    if errors.0.is_empty() {
        Ok(changes)
    } else {
        Err(errors.0)
    }
}

fn parse_code(code: &str) -> Result<String, FieldError> {
    let length = code.chars().count();
    if length < 2 {
        return Err(FieldError::new(
            "code",
            "too_short",
            "At least 2 characters.",
        ));
    }
    if length > 50 {
        return Err(FieldError::new(
            "code",
            "too_long",
            "At most 50 characters.",
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(FieldError::new(
            "code",
            "invalid_format",
            "Only the characters a-z, 0-9, _ and -.",
        ));
    }
    Ok(code.to_owned())
}

/// One line of text, trimmed, `min` to `max` characters.
fn line(field: &str, raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let text = bounded(field, raw, min, max)?;
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Must not contain control characters or line breaks.",
        ));
    }
    Ok(text)
}

/// Text that may hold line breaks and tabs, trimmed, at most `max` characters.
fn paragraphs(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = bounded(field, raw, 0, max)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Must not contain control characters.",
        ));
    }
    Ok(text)
}

fn bounded(field: &str, raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    let length = text.chars().count();
    if length == 0 && min > 0 {
        return Err(FieldError::new(field, "required", "Must not be empty."));
    }
    if length < min {
        return Err(FieldError::new(
            field,
            "too_short",
            format!("At least {min} characters."),
        ));
    }
    if length > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("At most {max} characters."),
        ));
    }
    Ok(text.to_owned())
}

fn parse_keywords(keywords: Vec<String>) -> Result<Vec<String>, Vec<FieldError>> {
    if keywords.len() > MAX_KEYWORDS {
        return Err(vec![FieldError::new(
            "keywords",
            "too_many",
            format!("At most {MAX_KEYWORDS} keywords."),
        )]);
    }
    let mut errors = Errors::default();
    let parsed: Vec<Option<String>> = keywords
        .iter()
        .enumerate()
        .map(|(i, keyword)| {
            let field = format!("keywords[{i}]");
            errors.check(
                line(&field, keyword, 1, MAX_KEYWORD_LEN).and_then(|keyword| {
                    if keyword.contains(',') {
                        Err(FieldError::new(
                            &field,
                            "invalid_characters",
                            "Must not contain commas.",
                        ))
                    } else {
                        Ok(keyword)
                    }
                }),
            )
        })
        .collect();
    if errors.0.is_empty() {
        Ok(parsed.into_iter().flatten().collect())
    } else {
        Err(errors.0)
    }
}

fn parse_questions(questions: Vec<Question>) -> Result<Vec<Question>, Vec<FieldError>> {
    if questions.len() > MAX_QUESTIONS {
        return Err(vec![FieldError::new(
            "questions",
            "too_many",
            format!("At most {MAX_QUESTIONS} questions."),
        )]);
    }
    let mut errors = Errors::default();
    let mut parsed = Vec::with_capacity(questions.len());
    for (i, question) in questions.into_iter().enumerate() {
        let field = |name: &str| format!("questions[{i}].{name}");
        let code_is_valid = (1..=MAX_QUESTION_CODE_LEN).contains(&question.code.len())
            && question
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !code_is_valid {
            errors.0.push(FieldError::new(
                &field("code"),
                "invalid_format",
                format!("1 to {MAX_QUESTION_CODE_LEN} characters of a-z, 0-9 and _."),
            ));
        } else if parsed.iter().any(|q: &Question| q.code == question.code) {
            errors.0.push(FieldError::new(
                &field("code"),
                "duplicate",
                "Another question of this category has this code.",
            ));
        }
        let description = errors.check(line(
            &field("description"),
            &question.description,
            1,
            MAX_QUESTION_DESCRIPTION_LEN,
        ));
        let values = errors.extend(parse_values(&question, i));
        if let (Some(description), Some(values)) = (description, values) {
            parsed.push(Question {
                description,
                values,
                ..question
            });
        }
    }
    if errors.0.is_empty() {
        // Stable: questions of equal `order` keep the order they were given in.
        parsed.sort_by_key(|question| question.order);
        Ok(parsed)
    } else {
        Err(errors.0)
    }
}

fn parse_values(question: &Question, index: usize) -> Result<Vec<QuestionValue>, Vec<FieldError>> {
    let field = format!("questions[{index}].values");
    if !question.datatype.is_list() {
        return if question.values.is_empty() {
            Ok(Vec::new())
        } else {
            Err(vec![FieldError::new(
                &field,
                "not_allowed",
                "Only list datatypes take values.",
            )])
        };
    }
    if question.values.is_empty() || question.values.len() > MAX_VALUES {
        return Err(vec![FieldError::new(
            &field,
            if question.values.is_empty() {
                "required"
            } else {
                "too_many"
            },
            format!("A list question takes 1 to {MAX_VALUES} values."),
        )]);
    }
    let mut errors = Errors::default();
    let mut values: Vec<QuestionValue> = Vec::with_capacity(question.values.len());
    for (j, value) in question.values.iter().enumerate() {
        let key_field = format!("{field}[{j}].key");
        let key = errors.check(line(&key_field, &value.key, 1, MAX_VALUE_KEY_LEN));
        let name = errors.check(line(
            &format!("{field}[{j}].name"),
            &value.name,
            1,
            MAX_VALUE_NAME_LEN,
        ));
        if let (Some(key), Some(name)) = (key, name) {
            if values.iter().any(|seen| seen.key == key) {
                errors.0.push(FieldError::new(
                    &key_field,
                    "duplicate",
                    "Another value of this question has this key.",
                ));
            } else {
                values.push(QuestionValue { key, name });
            }
        }
    }
    if errors.0.is_empty() {
        Ok(values)
    } else {
        Err(errors.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::categories::models::Datatype;
    use serde_json::json;

    fn request(body: serde_json::Value) -> CreateCategoryRequest {
        serde_json::from_value(body).unwrap()
    }

    fn minimal() -> serde_json::Value {
        json!({"code": "broken_sign", "name": "Broken sign", "handled_by": "council"})
    }

    fn with(field: &str, value: serde_json::Value) -> CreateCategoryRequest {
        let mut body = minimal();
        body[field] = value;
        request(body)
    }

    fn fields(request: CreateCategoryRequest) -> Vec<(String, String)> {
        NewCategory::try_from(request)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_owned(), code.to_owned())
    }

    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        use crate::categories::models::Question;
        use crate::openapi::bounds::{assert_items, assert_lengths, property};

        let ok = |field: &str, value: serde_json::Value| {
            NewCategory::try_from(with(field, value)).is_ok()
        };
        let question = |code: &str, description: &str, values: serde_json::Value| {
            let datatype = if values == json!([]) {
                "string"
            } else {
                "singlevaluelist"
            };
            json!({"code": code, "datatype": datatype, "description": description, "values": values})
        };
        assert_lengths(&property::<CreateCategoryRequest>("code"), 'a', |code| {
            parse_code(code).is_ok()
        });
        for field in ["name", "description", "group", "safety_notes"] {
            assert_lengths(&property::<CreateCategoryRequest>(field), 'é', |value| {
                ok(field, json!(value))
            });
        }
        let keywords = property::<CreateCategoryRequest>("keywords");
        assert_lengths(&keywords["items"], 'é', |k| ok("keywords", json!([k])));
        assert_items(&keywords, |n| {
            let many: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            ok("keywords", json!(many))
        });
        assert_items(&property::<CreateCategoryRequest>("questions"), |n| {
            let many: Vec<_> = (0..n)
                .map(|i| question(&format!("q{i}"), "Why?", json!([])))
                .collect();
            ok("questions", json!(many))
        });
        assert_lengths(&property::<Question>("code"), 'a', |code| {
            ok("questions", json!([question(code, "Why?", json!([]))]))
        });
        assert_lengths(&property::<Question>("description"), 'é', |text| {
            ok("questions", json!([question("q", text, json!([]))]))
        });
        assert_items(&property::<Question>("values"), |n| {
            let values: Vec<_> = (0..n)
                .map(|i| json!({"key": format!("v{i}"), "name": "V"}))
                .collect();
            ok("questions", json!([question("q", "Why?", json!(values))]))
        });
        for field in ["key", "name"] {
            let schema = property::<crate::categories::models::QuestionValue>(field);
            assert_lengths(&schema, 'é', |text| {
                let value = if field == "key" {
                    json!({"key": text, "name": "V"})
                } else {
                    json!({"key": "v", "name": text})
                };
                ok("questions", json!([question("q", "Why?", json!([value]))]))
            });
        }
    }

    #[test]
    fn a_minimal_category_gets_defaults() {
        let category = NewCategory::try_from(request(minimal())).unwrap();
        assert_eq!(category.code(), "broken_sign");
        assert_eq!(category.name, "Broken sign");
        assert_eq!(category.description, "");
        assert!(category.active);
        assert!(category.keywords.is_empty() && category.questions.is_empty());
    }

    #[test]
    fn codes_are_2_to_50_lowercase_letters_digits_underscores_or_hyphens() {
        assert!(parse_code("ab").is_ok());
        assert!(parse_code("fly-tipping_2").is_ok());
        assert!(parse_code(&"a".repeat(50)).is_ok());
        assert_eq!(parse_code("a").unwrap_err().code, "too_short");
        assert_eq!(parse_code(&"a".repeat(51)).unwrap_err().code, "too_long");
        for bad in ["Pothole", "pot hole", "pot.hole", "café"] {
            assert_eq!(parse_code(bad).unwrap_err().code, "invalid_format", "{bad}");
        }
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        let category = NewCategory::try_from(with("name", json!("  Sign  "))).unwrap();
        assert_eq!(category.name, "Sign");
        assert_eq!(
            fields(with("name", json!("  "))),
            [pair("name", "required")]
        );
        assert_eq!(
            fields(with("name", json!("x".repeat(101)))),
            [pair("name", "too_long")]
        );
        assert_eq!(
            fields(with("name", json!("a\nb"))),
            [pair("name", "invalid_characters")]
        );
        assert!(NewCategory::try_from(with("description", json!("a\nb"))).is_ok());
        assert_eq!(
            fields(with("description", json!("x".repeat(2001)))),
            [pair("description", "too_long")]
        );
        assert_eq!(
            fields(with("group", json!("x".repeat(101)))),
            [pair("group", "too_long")]
        );
        assert_eq!(
            fields(with("safety_notes", json!("x".repeat(2001)))),
            [pair("safety_notes", "too_long")]
        );
    }

    #[test]
    fn keywords_are_at_most_20_short_words_without_commas() {
        let category = NewCategory::try_from(with("keywords", json!([" sign ", "bent"]))).unwrap();
        assert_eq!(category.keywords, ["sign", "bent"]);
        let many: Vec<String> = (0..21).map(|i| format!("k{i}")).collect();
        assert_eq!(
            fields(with("keywords", json!(many))),
            [pair("keywords", "too_many")]
        );
        assert_eq!(
            fields(with("keywords", json!(["ok", "", "a,b", "x".repeat(51)]))),
            [
                pair("keywords[1]", "required"),
                pair("keywords[2]", "invalid_characters"),
                pair("keywords[3]", "too_long"),
            ]
        );
    }

    fn question(code: &str, datatype: &str, values: serde_json::Value) -> serde_json::Value {
        json!({"code": code, "datatype": datatype, "description": "Which?", "values": values})
    }

    #[test]
    fn questions_are_checked_and_sorted_by_order() {
        let mut second = question(
            "colour",
            "singlevaluelist",
            json!([{"key": "red", "name": "Red"}]),
        );
        second["order"] = json!(1);
        let mut first = question("height_cm", "number", json!([]));
        first["order"] = json!(0);
        let category = NewCategory::try_from(with("questions", json!([second, first]))).unwrap();
        let codes: Vec<&str> = category.questions.iter().map(|q| q.code.as_str()).collect();
        assert_eq!(codes, ["height_cm", "colour"]);
        assert_eq!(category.questions[1].datatype, Datatype::SingleValueList);
        assert!(!category.questions[1].required);
    }

    #[test]
    fn question_codes_are_unique_and_well_formed() {
        assert_eq!(
            fields(with(
                "questions",
                json!([
                    question("size", "string", json!([])),
                    question("size", "text", json!([])),
                    question("Size", "text", json!([])),
                    question("", "text", json!([])),
                ])
            )),
            [
                pair("questions[1].code", "duplicate"),
                pair("questions[2].code", "invalid_format"),
                pair("questions[3].code", "invalid_format"),
            ]
        );
    }

    #[test]
    fn question_descriptions_are_1_to_500_characters() {
        let mut empty = question("a", "string", json!([]));
        empty["description"] = json!(" ");
        let mut long = question("b", "string", json!([]));
        long["description"] = json!("x".repeat(501));
        assert_eq!(
            fields(with("questions", json!([empty, long]))),
            [
                pair("questions[0].description", "required"),
                pair("questions[1].description", "too_long"),
            ]
        );
    }

    #[test]
    fn list_questions_need_values_and_others_take_none() {
        let many: Vec<serde_json::Value> = (0..101)
            .map(|i| json!({"key": format!("k{i}"), "name": "K"}))
            .collect();
        assert_eq!(
            fields(with(
                "questions",
                json!([
                    question("a", "singlevaluelist", json!([])),
                    question("b", "multivaluelist", json!(many)),
                    question("c", "number", json!([{"key": "1", "name": "One"}])),
                    question(
                        "d",
                        "multivaluelist",
                        json!([
                            {"key": "x", "name": "X"},
                            {"key": " x ", "name": "X again"},
                            {"key": "", "name": "Nothing"},
                            {"key": "y", "name": ""},
                        ])
                    ),
                ])
            )),
            [
                pair("questions[0].values", "required"),
                pair("questions[1].values", "too_many"),
                pair("questions[2].values", "not_allowed"),
                pair("questions[3].values[1].key", "duplicate"),
                pair("questions[3].values[2].key", "required"),
                pair("questions[3].values[3].name", "required"),
            ]
        );
    }

    #[test]
    fn at_most_30_questions() {
        let many: Vec<serde_json::Value> = (0..31)
            .map(|i| question(&format!("q{i}"), "string", json!([])))
            .collect();
        assert_eq!(
            fields(with("questions", json!(many))),
            [pair("questions", "too_many")]
        );
    }

    #[test]
    fn every_invalid_field_is_named_at_once() {
        let body =
            json!({"code": "X", "name": "", "handled_by": "either", "group": "g".repeat(200)});
        assert_eq!(
            fields(request(body)),
            [
                pair("code", "too_short"),
                pair("name", "required"),
                pair("group", "too_long"),
            ]
        );
    }

    #[test]
    fn changes_hold_only_what_was_sent() {
        let changes = CategoryChanges::try_from(UpdateCategoryRequest {
            active: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(changes.active, Some(false));
        assert_eq!(changes.name, None);
        assert!(
            CategoryChanges::try_from(UpdateCategoryRequest::default())
                .unwrap()
                .is_empty()
        );
        let unknown: Result<UpdateCategoryRequest, _> =
            serde_json::from_value(json!({"code": "renamed"}));
        assert!(unknown.is_err(), "the code cannot change");
    }
}
