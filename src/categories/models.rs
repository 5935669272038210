//! Category rows and queries, and the types of a category's questions (also the JSON
//! stored in the `questions` column).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::categories;

/// The kind of answer a question takes (Open311 `datatype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Datatype {
    /// One line of text, at most 500 characters.
    String,
    /// A finite number.
    Number,
    /// An RFC 3339 date and time with a zone, stored in UTC.
    Datetime,
    /// Free text, at most 4000 characters.
    Text,
    /// One key of `values`.
    #[serde(rename = "singlevaluelist")]
    SingleValueList,
    /// One or more distinct keys of `values`.
    #[serde(rename = "multivaluelist")]
    MultiValueList,
}

impl Datatype {
    /// Whether answers pick from the question's `values`.
    pub fn is_list(self) -> bool {
        matches!(self, Self::SingleValueList | Self::MultiValueList)
    }
}

/// One allowed answer of a list question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionValue {
    /// What an answer sends: 1 to 100 characters once trimmed, on one line, unique within
    /// the question.
    #[schema(example = "small", min_length = 1, max_length = 100)]
    pub key: String,
    /// What a person reads: 1 to 200 characters once trimmed, on one line.
    #[schema(
        example = "Smaller than a dinner plate",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
}

/// A question asked when reporting in a category (Open311 service attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The key of the answer in `answers`: 1 to 50 characters of `a-z`, `0-9` and `_`,
    /// unique within the category.
    #[schema(
        example = "size",
        min_length = 1,
        max_length = 50,
        pattern = "^[a-z0-9_]{1,50}$"
    )]
    pub code: String,
    pub datatype: Datatype,
    /// Whether a report must answer it. Default `false`.
    #[serde(default)]
    pub required: bool,
    /// The question as shown: 1 to 500 characters once trimmed, on one line.
    #[schema(example = "How big is it?", min_length = 1, max_length = 500)]
    pub description: String,
    /// Where it comes among the category's questions, lowest first. Default 0.
    #[serde(default)]
    pub order: i32,
    /// The allowed answers: 1 to 100 for list datatypes, none for the others.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub values: Vec<QuestionValue>,
}

impl Question {
    /// Whether `key` is one of the allowed answers of a list question.
    pub fn allows(&self, key: &str) -> bool {
        self.values.iter().any(|value| value.key == key)
    }
}

/// Who usually deals with issues of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandledBy {
    /// Neighbours and community groups can fix it themselves.
    Community,
    /// Only the council can fix it.
    Council,
    /// Either.
    Either,
}

impl HandledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Community => "community",
            Self::Council => "council",
            Self::Either => "either",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "community" => Some(Self::Community),
            "council" => Some(Self::Council),
            "either" => Some(Self::Either),
            _ => None,
        }
    }
}

/// A category row as stored: keywords comma-separated, questions as a JSON array.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub code: String,
    pub name: String,
    pub description: String,
    pub group_name: String,
    pub keywords: String,
    pub handled_by: String,
    pub safety_notes: String,
    pub active: bool,
    pub questions: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A category, parsed from its row.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub description: String,
    pub group_name: String,
    pub keywords: Vec<String>,
    pub handled_by: HandledBy,
    pub safety_notes: String,
    /// Inactive categories take no new reports and are hidden from the public.
    pub active: bool,
    /// Sorted by `order`.
    pub questions: Vec<Question>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn corrupt(code: &str, what: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("category {code:?}: {what}").into())
}

impl TryFrom<CategoryRow> for Category {
    type Error = diesel::result::Error;

    fn try_from(row: CategoryRow) -> Result<Self, Self::Error> {
        let handled_by = HandledBy::parse(&row.handled_by)
            .ok_or_else(|| corrupt(&row.code, format!("handled_by {:?}", row.handled_by)))?;
        let mut questions: Vec<Question> = serde_json::from_str(&row.questions)
            .map_err(|error| corrupt(&row.code, format!("questions: {error}")))?;
        questions.sort_by_key(|question| question.order);
        Ok(Self {
            keywords: split_keywords(&row.keywords),
            handled_by,
            questions,
            code: row.code,
            name: row.name,
            description: row.description,
            group_name: row.group_name,
            safety_notes: row.safety_notes,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn split_keywords(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .map(str::trim)
        .filter(|keyword| !keyword.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One category, active or not; `NotFound` (404) if there is none.
pub fn find_category(conn: &mut DbConnection, code: &str) -> QueryResult<Category> {
    crate::db::on_backend!(conn, |c| categories::table
        .find(code)
        .select(CategoryRow::as_select())
        .first(c))?
    .try_into()
}

/// Every category (only the active ones unless `include_inactive`), by group, then name.
pub fn list_categories(
    conn: &mut DbConnection,
    include_inactive: bool,
) -> QueryResult<Vec<Category>> {
    let mut query = categories::table
        .select(CategoryRow::as_select())
        .order((
            categories::group_name.asc(),
            categories::name.asc(),
            categories::code.asc(),
        ))
        .into_boxed();
    if !include_inactive {
        query = query.filter(categories::active.eq(true));
    }
    query
        .load(conn)?
        .into_iter()
        .map(Category::try_from)
        .collect()
}

/// A new category, validated (built from a request by the routes).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCategory {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) group_name: String,
    /// None contains a comma.
    pub(super) keywords: Vec<String>,
    pub(super) handled_by: HandledBy,
    pub(super) safety_notes: String,
    pub(super) active: bool,
    pub(super) questions: Vec<Question>,
}

impl NewCategory {
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// Changes to a category, validated; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryChanges {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) group_name: Option<String>,
    pub(super) keywords: Option<Vec<String>>,
    pub(super) handled_by: Option<HandledBy>,
    pub(super) safety_notes: Option<String>,
    pub(super) active: Option<bool>,
    pub(super) questions: Option<Vec<Question>>,
}

/// Keywords as stored: comma-separated (a keyword holds no comma).
fn join_keywords(keywords: &[String]) -> String {
    keywords.join(",")
}

/// Questions as stored: a JSON array, sorted by `order`.
fn questions_json(questions: &[Question]) -> QueryResult<String> {
    let mut sorted = questions.to_vec();
    sorted.sort_by_key(|question| question.order);
    serde_json::to_string(&sorted)
        .map_err(|error| diesel::result::Error::SerializationError(error.into()))
}

#[derive(Insertable)]
#[diesel(table_name = categories)]
struct CategoryInsert<'a> {
    code: &'a str,
    name: &'a str,
    description: &'a str,
    group_name: &'a str,
    keywords: String,
    handled_by: &'a str,
    safety_notes: &'a str,
    active: bool,
    questions: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Adds a category; a taken code is a unique violation. Returns it as stored.
pub fn insert_category(
    conn: &mut DbConnection,
    category: &NewCategory,
    now: NaiveDateTime,
) -> QueryResult<Category> {
    diesel::insert_into(categories::table)
        .values(CategoryInsert {
            code: &category.code,
            name: &category.name,
            description: &category.description,
            group_name: &category.group_name,
            keywords: join_keywords(&category.keywords),
            handled_by: category.handled_by.as_str(),
            safety_notes: &category.safety_notes,
            active: category.active,
            questions: questions_json(&category.questions)?,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)?;
    find_category(conn, &category.code)
}

#[derive(AsChangeset)]
#[diesel(table_name = categories)]
struct CategoryChangeset<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    group_name: Option<&'a str>,
    keywords: Option<String>,
    handled_by: Option<&'a str>,
    safety_notes: Option<&'a str>,
    active: Option<bool>,
    questions: Option<String>,
    updated_at: NaiveDateTime,
}

impl CategoryChanges {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Applies `changes`, stamping `updated_at` with `now` if there are any; `NotFound` if
/// there is no such category. Returns the category as it now is.
pub fn update_category(
    conn: &mut DbConnection,
    code: &str,
    changes: &CategoryChanges,
    now: NaiveDateTime,
) -> QueryResult<Category> {
    if !changes.is_empty() {
        let changeset = CategoryChangeset {
            name: changes.name.as_deref(),
            description: changes.description.as_deref(),
            group_name: changes.group_name.as_deref(),
            keywords: changes.keywords.as_deref().map(join_keywords),
            handled_by: changes.handled_by.map(HandledBy::as_str),
            safety_notes: changes.safety_notes.as_deref(),
            active: changes.active,
            questions: changes
                .questions
                .as_deref()
                .map(questions_json)
                .transpose()?,
            updated_at: now,
        };
        let updated = diesel::update(categories::table.find(code))
            .set(&changeset)
            .execute(conn)?;
        if updated == 0 {
            return Err(diesel::result::Error::NotFound);
        }
    }
    find_category(conn, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keywords_are_split_on_commas_and_empty_ones_dropped() {
        assert_eq!(
            split_keywords("road, hole,,tarmac"),
            vec!["road", "hole", "tarmac"]
        );
        assert!(split_keywords("").is_empty());
    }

    #[test]
    fn the_starter_questions_parse_and_are_sorted_by_order() {
        let stored = r#"[{"code":"b","datatype":"number","required":false,"description":"B","order":2,"values":[]},
            {"code":"a","datatype":"singlevaluelist","required":true,"description":"A","order":1,"values":[{"key":"x","name":"X"}]}]"#;
        let mut questions: Vec<Question> = serde_json::from_str(stored).unwrap();
        questions.sort_by_key(|q| q.order);
        assert_eq!(questions[0].code, "a");
        assert_eq!(questions[0].datatype, Datatype::SingleValueList);
        assert!(questions[0].allows("x"));
        assert!(!questions[0].allows("y"));
        let json: Vec<Question> =
            serde_json::from_str(&questions_json(&questions).unwrap()).unwrap();
        assert_eq!(json, questions);
    }

    #[test]
    fn datatypes_use_the_open311_names() {
        for (datatype, name) in [
            (Datatype::String, "string"),
            (Datatype::Number, "number"),
            (Datatype::Datetime, "datetime"),
            (Datatype::Text, "text"),
            (Datatype::SingleValueList, "singlevaluelist"),
            (Datatype::MultiValueList, "multivaluelist"),
        ] {
            assert_eq!(serde_json::to_value(datatype).unwrap(), name);
        }
    }

    #[test]
    fn handled_by_round_trips_through_its_stored_name() {
        for handled_by in [HandledBy::Community, HandledBy::Council, HandledBy::Either] {
            assert_eq!(HandledBy::parse(handled_by.as_str()), Some(handled_by));
        }
        assert_eq!(HandledBy::parse("nobody"), None);
    }
}
