//! The Open311 routes (under `/open311/v2`): discovery, services and service definitions
//! here; service requests in `requests` (reading) and `submit` (creating); and the 404
//! (or 405) error list for every other request.

mod requests;
mod submit;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, web};
use utoipa::ToResponse;
use utoipa_actix_web::service_config::ServiceConfig;

pub use requests::*;
pub use submit::*;

use super::error::{Open311Error, Open311Result};
use super::format::Format;
use super::params::Params;
use super::queries;
use super::views::{
    Attribute, AttributeValue, Discovery, Endpoint, ErrorItem, Service, ServiceDefinition,
    TokenRequest,
};
use super::{CHANGESET, SPECIFICATION};
use crate::categories::models::{Category, Question, find_category, list_categories};
use crate::config::Config;
use crate::db;
use crate::fallback::MethodTable;
use crate::startup::AppState;

/// The longest token looked up.
const MAX_TOKEN_LEN: usize = 200;

/// What every Open311 handler answers: the body in the asked format, or the error list.
pub type Reply = Result<HttpResponse, Open311Error>;

/// Registers the Open311 routes (under `/open311/v2`), and the 404 (or 405) error list
/// for any other request there.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_discovery)
        .service(list_services)
        .service(get_service_definition)
        .service(get_service_definition_singular)
        .service(list_requests)
        .service(get_request)
        .service(create_request)
        .service(get_token)
        .default_service(web::to(unknown_resource));
}

/// An Open311 error list: a client error in the asked format.
#[derive(ToResponse)]
#[response(description = "The problems, one `{code, description}` each")]
pub enum Open311Errors {
    Json(#[content("application/json")] Vec<ErrorItem>),
    Xml(#[content("text/xml")] String),
}

/// Any other request under `/open311/v2`: 405 with `Allow` for a method a resource does
/// not serve, else 404; in JSON if the path ends in `.json`, else in XML.
async fn unknown_resource(req: HttpRequest) -> HttpResponse {
    let format = Format::guess_from_path(req.path());
    let allow = req
        .app_data::<web::Data<MethodTable>>()
        .and_then(|methods| methods.allow_header(req.path()));
    let Some(allow) = allow else {
        return Open311Error::not_found("There is no such Open311 resource.")
            .in_format(format)
            .error_response();
    };
    let mut response = Open311Error::method_not_allowed(format!(
        "{} is not served here; this resource serves {allow}.",
        req.method()
    ))
    .in_format(format)
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// 404 unless `jurisdiction_id` is absent, blank, or this server's (when it has one).
pub(crate) fn check_jurisdiction(config: &Config, params: &Params) -> Open311Result<()> {
    match (&config.jurisdiction_id, params.get("jurisdiction_id")) {
        (Some(ours), Some(asked)) if ours != asked => Err(Open311Error::not_found(format!(
            "This server serves the jurisdiction `{ours}` only."
        ))),
        _ => Ok(()),
    }
}

/// The query string's parameters, and the jurisdiction checked.
fn query_params(state: &AppState, req: &HttpRequest) -> Open311Result<Params> {
    let params = Params::parse(req.query_string().as_bytes())?;
    check_jurisdiction(&state.config, &params)?;
    Ok(params)
}

fn discovery(config: &Config) -> Discovery {
    Discovery {
        changeset: CHANGESET.to_owned(),
        contact: format!(
            "This service reports local problems to {} and its community: contact the \
             council for questions about it.",
            config.council_name
        ),
        key_service: "An api_key is the client secret of a partner client with the \
                      `open311:submit` scope; ask the administrator of this server for one."
            .to_owned(),
        endpoints: vec![Endpoint {
            specification: SPECIFICATION.to_owned(),
            url: format!("{}/open311/v2", config.public_url),
            changeset: CHANGESET.to_owned(),
            kind: "production".to_owned(),
            formats: vec!["text/xml".to_owned(), "application/json".to_owned()],
        }],
    }
}

/// Service discovery: where the endpoint is, which formats it speaks, how to get a key.
#[utoipa::path(
    tag = "Open311",
    params(
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    responses(
        (status = 200, description = "The discovery document", content(
            (Discovery = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/discovery.{format}")]
pub async fn get_discovery(state: web::Data<AppState>, format: Format, req: HttpRequest) -> Reply {
    let answer = query_params(&state, &req).map(|_| discovery(&state.config));
    format.respond(StatusCode::OK, "discovery", answer)
}

fn service(category: Category) -> Service {
    let keywords = category.keywords.join(",");
    Service {
        metadata: !category.questions.is_empty(),
        service_code: category.code,
        service_name: category.name,
        description: Some(category.description).filter(|d| !d.trim().is_empty()),
        kind: "realtime".to_owned(),
        keywords: Some(keywords).filter(|k| !k.is_empty()),
        group: Some(category.group_name).filter(|g| !g.trim().is_empty()),
    }
}

/// The services that can be requested: the active categories, by group and name.
#[utoipa::path(
    tag = "Open311",
    params(
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    responses(
        (status = 200, description = "The services", content(
            (Vec<Service> = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/services.{format}")]
pub async fn list_services(state: web::Data<AppState>, format: Format, req: HttpRequest) -> Reply {
    let answer = async {
        query_params(&state, &req)?;
        let categories = db::read(&state.pool, |conn| Ok(list_categories(conn, false)?)).await?;
        Ok(categories.into_iter().map(service).collect::<Vec<_>>())
    };
    format.respond(StatusCode::OK, "services", answer.await)
}

fn attribute(position: usize, question: Question) -> Attribute {
    let values = question.datatype.is_list().then(|| {
        question
            .values
            .into_iter()
            .map(|value| AttributeValue {
                key: value.key,
                name: value.name,
            })
            .collect()
    });
    Attribute {
        variable: true,
        code: question.code,
        datatype: question.datatype,
        required: question.required,
        datatype_description: None,
        order: position + 1,
        description: question.description,
        values,
    }
}

async fn service_definition(
    state: &AppState,
    req: &HttpRequest,
    code: String,
) -> Open311Result<ServiceDefinition> {
    query_params(state, req)?;
    let category = db::read(&state.pool, move |conn| {
        Ok(find_category(conn, &code).ok().filter(|c| c.active))
    })
    .await?
    .ok_or_else(|| Open311Error::not_found("There is no such service."))?;
    Ok(ServiceDefinition {
        service_code: category.code,
        attributes: category
            .questions
            .into_iter()
            .enumerate()
            .map(|(position, question)| attribute(position, question))
            .collect(),
    })
}

/// The attributes (questions) of a service, in the order they are asked.
#[utoipa::path(
    tag = "Open311",
    params(
        ("service_code" = String, Path, description = "A service code"),
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    responses(
        (status = 200, description = "The service definition", content(
            (ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/services/{service_code}.{format}")]
pub async fn get_service_definition(
    state: web::Data<AppState>,
    format: Format,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Reply {
    let (code, _) = path.into_inner();
    let answer = service_definition(&state, &req, code).await;
    format.respond(StatusCode::OK, "service_definition", answer)
}

/// The same as `services/{service_code}`, for clients that ask for it in the singular.
#[utoipa::path(
    tag = "Open311",
    params(
        ("service_code" = String, Path, description = "A service code"),
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    responses(
        (status = 200, description = "The service definition", content(
            (ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/service/{service_code}.{format}")]
pub async fn get_service_definition_singular(
    state: web::Data<AppState>,
    format: Format,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Reply {
    let (code, _) = path.into_inner();
    let answer = service_definition(&state, &req, code).await;
    format.respond(StatusCode::OK, "service_definition", answer)
}

/// The request a token from `POST requests` stands for, as a list of one.
#[utoipa::path(
    tag = "Open311",
    params(
        ("token" = String, Path, description = "The token a new request was answered with (at most 200 characters; a longer one is unknown)", max_length = 200),
        ("format" = String, Path, description = "`xml` or `json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "Accepted if it is this server's"),
    ),
    responses(
        (status = 200, description = "The request's id", content(
            (Vec<TokenRequest> = "application/json"), (String = "text/xml"))),
        (status = 404, response = Open311Errors),
    )
)]
#[get("/tokens/{token}.{format}")]
pub async fn get_token(
    state: web::Data<AppState>,
    format: Format,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Reply {
    let (token, _) = path.into_inner();
    let answer = async {
        query_params(&state, &req)?;
        let unknown = || Open311Error::not_found("There is no such token.");
        if token.len() > MAX_TOKEN_LEN {
            return Err(unknown());
        }
        let lookup = token.clone();
        let id = db::read(&state.pool, move |conn| {
            Ok(queries::find_by_token(conn, &lookup)?)
        })
        .await?
        .ok_or_else(unknown)?;
        Ok(vec![TokenRequest {
            service_request_id: id,
            token,
        }])
    };
    format.respond(StatusCode::OK, "service_requests", answer.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_token_length_is_the_enforced_one() {
        let token = crate::openapi::bounds::route_param::<get_token>("token");
        assert_eq!(token["maxLength"], MAX_TOKEN_LEN);
    }
}
