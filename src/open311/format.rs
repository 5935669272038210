//! The two wire formats of Open311: the `.xml` / `.json` suffix of every resource, and the
//! writer that turns an answer (built once as JSON) into either.
//!
//! Every answer is first written as JSON: that is the JSON body as it is, and the XML body
//! is derived from it by one generic rule. An object becomes an element per key, in the
//! order written; an array becomes an element holding one child per item, named by the
//! singular of the array's name (`services` → `service`); `null` is left out; booleans,
//! numbers and strings are text.

use std::future::{Ready, ready};
use std::io;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::error::Open311Error;

/// `Content-Type` of XML answers.
pub const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// `Content-Type` of JSON answers.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The element name of the items of each list, by the list's name. A list not named here
/// has `item` children.
const SINGULARS: [(&str, &str); 8] = [
    ("services", "service"),
    ("attributes", "attribute"),
    ("values", "value"),
    ("endpoints", "endpoint"),
    ("formats", "format"),
    ("notes", "note"),
    ("errors", "error"),
    ("service_requests", "request"),
];

/// The format a resource was asked for, from the `{format}` of its path.
///
/// As an extractor it refuses any other suffix with a 404 error list in XML (the format
/// Open311 makes mandatory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// `xml` or `json`; anything else is no format of ours.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "xml" => Some(Self::Xml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The format an unknown path would have asked for: JSON if it ends in `.json`.
    pub fn guess_from_path(path: &str) -> Self {
        if path.ends_with(".json") {
            Self::Json
        } else {
            Self::Xml
        }
    }

    /// Renders `body` with `status`; `root` names the XML document element.
    pub fn render<T: Serialize>(self, status: StatusCode, root: &str, body: &T) -> HttpResponse {
        let text = serde_json::to_string(body).map_err(io::Error::other);
        let (content_type, text) = match self {
            Self::Json => (JSON_CONTENT_TYPE, text),
            Self::Xml => (
                XML_CONTENT_TYPE,
                text.and_then(|json| json_to_xml(root, &json)),
            ),
        };
        match text {
            Ok(text) => HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
                .body(text),
            Err(error) => {
                tracing::error!(%error, "could not write an Open311 answer");
                HttpResponse::InternalServerError().finish()
            }
        }
    }

    /// Answers a handler's result: `body` under `root` with `status`, or the error list in
    /// this format.
    pub fn respond<T: Serialize>(
        self,
        status: StatusCode,
        root: &str,
        result: Result<T, Open311Error>,
    ) -> Result<HttpResponse, Open311Error> {
        let body = result.map_err(|error| error.in_format(self))?;
        Ok(self.render(status, root, &body))
    }
}

impl FromRequest for Format {
    type Error = Open311Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.match_info()
                .get("format")
                .and_then(Self::parse)
                .ok_or_else(|| {
                    Open311Error::not_found("Open311 resources end in `.xml` or `.json`.")
                }),
        )
    }
}

/// A JSON document as a tree that keeps the order of object keys (`serde_json::Value`
/// sorts them), so XML elements come in the order the answer types declare them.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
    List(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Tree, E> {
        Ok(Tree::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Tree, E> {
        Ok(Tree::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Tree, E> {
        // The shortest decimal that reads back as the same number, as in the JSON answer.
        Ok(Tree::Number(
            serde_json::Number::from_f64(value).map_or_else(String::new, |n| n.to_string()),
        ))
    }

    fn visit_str<E>(self, value: &str) -> Result<Tree, E> {
        Ok(Tree::Text(value.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut fields = Vec::new();
        while let Some(field) = map.next_entry()? {
            fields.push(field);
        }
        Ok(Tree::Object(fields))
    }
}

/// The XML document of the JSON document `json`, with document element `root`.
fn json_to_xml(root: &str, json: &str) -> io::Result<String> {
    let tree: Tree = serde_json::from_str(json).map_err(io::Error::other)?;
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    write_element(&mut writer, root, &tree)?;
    String::from_utf8(writer.into_inner()).map_err(io::Error::other)
}

/// The XML document of `body`, with document element `root`.
pub fn to_xml<T: Serialize>(root: &str, body: &T) -> io::Result<String> {
    json_to_xml(
        root,
        &serde_json::to_string(body).map_err(io::Error::other)?,
    )
}

fn singular(plural: &str) -> &'static str {
    SINGULARS
        .iter()
        .find(|(name, _)| *name == plural)
        .map_or("item", |(_, one)| one)
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, tree: &Tree) -> io::Result<()> {
    match tree {
        Tree::Null => Ok(()),
        Tree::Object(fields) => {
            writer.write_event(Event::Start(BytesStart::new(name)))?;
            for (key, field) in fields {
                write_element(writer, key, field)?;
            }
            writer.write_event(Event::End(BytesEnd::new(name)))
        }
        Tree::List(items) => {
            let item_name = singular(name);
            writer.write_event(Event::Start(BytesStart::new(name)))?;
            for item in items {
                write_element(writer, item_name, item)?;
            }
            writer.write_event(Event::End(BytesEnd::new(name)))
        }
        Tree::Bool(flag) => write_text(writer, name, if *flag { "true" } else { "false" }),
        Tree::Number(number) => write_text(writer, name, number),
        Tree::Text(text) => write_text(writer, name, &xml_chars(text)),
    }
}

fn write_text(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}

/// `text` without the characters XML 1.0 cannot carry at all (most control characters),
/// which escaping cannot save.
fn xml_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    #[test]
    fn lists_hold_one_element_per_item_named_by_the_singular_in_key_order() {
        let xml = json_to_xml(
            "services",
            r#"[{"service_code": "pothole", "metadata": true}, {"service_code": "litter", "metadata": false}]"#,
        )
        .unwrap();
        assert_eq!(
            xml,
            format!(
                "{DECL}<services><service><service_code>pothole</service_code><metadata>true</metadata></service>\
                 <service><service_code>litter</service_code><metadata>false</metadata></service></services>"
            )
        );
    }

    #[test]
    fn nested_objects_and_lists_nest_and_nulls_are_left_out() {
        let xml = json_to_xml(
            "service_definition",
            r#"{"service_code": "p", "attributes": [{"order": 1, "values": [{"key": "a", "name": "A"}], "gone": null}]}"#,
        )
        .unwrap();
        assert_eq!(
            xml,
            format!(
                "{DECL}<service_definition><service_code>p</service_code><attributes><attribute>\
                 <order>1</order><values><value><key>a</key><name>A</name></value></values>\
                 </attribute></attributes></service_definition>"
            )
        );
    }

    #[test]
    fn text_is_escaped_and_numbers_are_decimal() {
        #[derive(Serialize)]
        struct Item {
            code: u16,
            description: &'static str,
            lat: f64,
            long: f64,
        }
        let xml = to_xml(
            "errors",
            &[Item {
                code: 400,
                description: "lat < -90 & \"long\"\u{1}",
                lat: 51.5072,
                long: -0.1,
            }],
        )
        .unwrap();
        assert_eq!(
            xml,
            format!(
                "{DECL}<errors><error><code>400</code>\
                 <description>lat &lt; -90 &amp; &quot;long&quot;</description>\
                 <lat>51.5072</lat><long>-0.1</long></error></errors>"
            )
        );
    }

    #[test]
    fn unknown_lists_have_item_children() {
        let xml = json_to_xml("things", r#"["a", []]"#).unwrap();
        assert_eq!(
            xml,
            format!("{DECL}<things><item>a</item><item></item></things>")
        );
    }

    #[test]
    fn only_xml_and_json_are_formats() {
        assert_eq!(Format::parse("xml"), Some(Format::Xml));
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("JSON"), None);
        assert_eq!(Format::parse("yaml"), None);
        assert_eq!(Format::guess_from_path("/open311/v2/x.json"), Format::Json);
        assert_eq!(Format::guess_from_path("/open311/v2/x"), Format::Xml);
    }
}
