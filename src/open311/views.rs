//! The Open311 answers as typed values. Each is serialised once to JSON, which is the JSON
//! answer as it is and the source of the XML one (see `format`). Fields with no value are
//! left out, in both formats.

use serde::Serialize;
use utoipa::ToSchema;

use crate::categories::models::Datatype;

/// The service discovery document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Discovery)]
pub struct Discovery {
    /// When this API last changed.
    pub changeset: String,
    /// Whom to contact about this service.
    pub contact: String,
    /// How to obtain an `api_key`.
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of the discovery document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Endpoint)]
pub struct Endpoint {
    /// `http://wiki.open311.org/GeoReport_v2`.
    pub specification: String,
    /// The base URL of the resources, e.g. `https://civitas.example/open311/v2`.
    pub url: String,
    pub changeset: String,
    /// `production`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `text/xml` and `application/json`.
    pub formats: Vec<String>,
}

/// A service: an active category.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Service)]
pub struct Service {
    /// The category's code.
    pub service_code: String,
    pub service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it has attributes (questions): see `services/{service_code}`.
    pub metadata: bool,
    /// `realtime`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<String>,
    /// The category's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A service definition: the attributes (questions) of a service.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311ServiceDefinition)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

/// An attribute: one question asked when reporting.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Attribute)]
pub struct Attribute {
    /// Always `true`: every attribute takes an answer.
    pub variable: bool,
    /// Answered as `attribute[CODE]`.
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datatype_description: Option<String>,
    /// Its position among the service's attributes, from 1.
    pub order: usize,
    /// The question.
    pub description: String,
    /// The allowed answers of list datatypes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<AttributeValue>>,
}

/// An allowed answer of a list attribute.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311AttributeValue)]
pub struct AttributeValue {
    /// What to send.
    pub key: String,
    /// What to show.
    pub name: String,
}

/// `open` or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Open311Status)]
pub enum OpenClosed {
    Open,
    Closed,
}

/// A service request: an issue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311ServiceRequest)]
pub struct ServiceRequest {
    /// The id.
    pub service_request_id: String,
    pub status: OpenClosed,
    /// The precise Civitas status, and the note of the latest status change:
    /// `in_progress: Crew booked for Tuesday`.
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The community group that adopted it, else the council.
    pub agency_responsible: String,
    /// When it was reported (UTC).
    pub requested_datetime: String,
    /// When it last changed (UTC).
    pub updated_datetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub lat: f64,
    pub long: f64,
    /// Its first photo, or a photo the reporting client hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    /// With `extensions=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_attributes: Option<ExtendedAttributes>,
}

/// What `extensions=true` adds to a request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311ExtendedAttributes)]
pub struct ExtendedAttributes {
    /// The precise Civitas status (`reported`, `community`, `escalated`, …).
    pub civitas_status: String,
    pub title: String,
    /// How many residents said "me too".
    pub support_count: i32,
    /// The public timeline, oldest first.
    pub notes: Vec<Note>,
}

/// One entry of a request's public timeline.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Note)]
pub struct Note {
    /// What happened: `reported`, `comment`, `status_changed`, `photo_added`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub datetime: String,
    pub summary: String,
    /// The status it moved to, for status changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The answer to a new request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311CreatedRequest)]
pub struct CreatedRequest {
    pub service_request_id: String,
    /// Look the request up later with `tokens/{token}`.
    pub token: String,
    pub service_notice: String,
}

/// The request a token stands for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311TokenRequest)]
pub struct TokenRequest {
    pub service_request_id: String,
    pub token: String,
}

/// One problem of an error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Open311Error)]
pub struct ErrorItem {
    /// The HTTP status.
    pub code: u16,
    pub description: String,
}

/// The fields of a new request, as a form (documentation only: the form is read by hand so
/// repeated and bracketed names work). Values are trimmed, and a blank one is the same as
/// none. A form carries at most 500 parameters (query string included), each value at
/// most 16 KiB (16 384 bytes).
#[derive(ToSchema)]
#[schema(as = Open311RequestForm)]
#[expect(dead_code, reason = "only its schema is used, by the OpenAPI document")]
pub struct RequestForm {
    /// A partner client secret with the `open311:submit` scope (here or in the query
    /// string).
    api_key: Option<String>,
    /// Optional; when the server has one, it must match.
    jurisdiction_id: Option<String>,
    /// A service code from `services`.
    service_code: String,
    /// WGS84 latitude, −90 to 90. This server does not geocode: `lat` and `long` are
    /// required.
    #[schema(minimum = -90, maximum = 90)]
    lat: f64,
    /// WGS84 longitude, −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    long: f64,
    /// Kept as the address, with `lat` and `long`; at most 200 characters.
    #[schema(max_length = 200)]
    address_string: Option<String>,
    /// Plain text (no HTML), at most 4000 characters; its first line becomes the title.
    #[schema(max_length = 4000)]
    description: Option<String>,
    /// `attribute[CODE]=value`, or `attribute[CODE][]=value` repeated for a
    /// `multivaluelist`. A `string` answer takes at most 500 characters, a `text` one 4000.
    #[schema(rename = "attribute[CODE]")]
    attribute: Option<String>,
    /// The reporter's contact details (staff see them; they are never published), each
    /// at most 200 characters without control characters.
    #[schema(max_length = 200)]
    email: Option<String>,
    #[schema(max_length = 200)]
    first_name: Option<String>,
    #[schema(max_length = 200)]
    last_name: Option<String>,
    #[schema(max_length = 200)]
    phone: Option<String>,
    #[schema(max_length = 200)]
    device_id: Option<String>,
    #[schema(max_length = 200)]
    account_id: Option<String>,
    /// A photo hosted elsewhere: an http(s) URL, at most 2048 characters.
    #[schema(max_length = 2048)]
    media_url: Option<String>,
    /// Multipart only: photos (JPEG, PNG or WebP, at most 10 000 px a side), as `media` or
    /// `media[]`, at most `CIVITAS_MAX_PHOTOS_PER_ISSUE` of them (10 by default).
    #[schema(value_type = Option<String>, format = Binary)]
    media: Option<Vec<u8>>,
}
