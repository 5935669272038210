//! The answer to a request no route takes: `405 Method Not Allowed` with `Allow` when
//! its path is a route's but its method is not one the route serves, else `404`.
//!
//! The routes register one handler per method, so actix-web alone cannot tell a wrong
//! method from a wrong path. The table of paths and methods comes from the OpenAPI
//! document, which is built from the same route configuration the server mounts.

use actix_web::dev::ResourceDef;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::ApiError;

/// Every documented path pattern with the methods it serves.
pub struct MethodTable(Vec<Route>);

struct Route {
    pattern: ResourceDef,
    /// Whether the pattern has no `{parameter}`: it then wins over any that has, as
    /// `/issues/duplicates` does over `/issues/{id}`.
    fixed: bool,
    methods: Vec<Method>,
}

impl MethodTable {
    /// The table of the documented routes.
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::OPTIONS, item.options.is_some()),
                    (Method::HEAD, item.head.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::TRACE, item.trace.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, served)| served.then_some(method))
                .collect();
                Route {
                    pattern: ResourceDef::new(path.as_str()),
                    fixed: !path.contains('{'),
                    methods,
                }
            })
            .collect();
        Self(routes)
    }

    /// The methods documented for `path` (sorted, without duplicates), empty when no
    /// route has this path.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let matching: Vec<&Route> = self
            .0
            .iter()
            .filter(|route| route.pattern.is_match(path))
            .collect();
        let fixed = matching.iter().any(|route| route.fixed);
        let mut methods: Vec<Method> = matching
            .into_iter()
            .filter(|route| route.fixed || !fixed)
            .flat_map(|route| route.methods.iter().cloned())
            .collect();
        methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        methods.dedup();
        methods
    }

    /// The value of `Allow` for `path` (`GET, PATCH`), `None` when no route has it.
    pub fn allow_header(&self, path: &str) -> Option<String> {
        let allowed = self.allowed(path);
        (!allowed.is_empty()).then(|| {
            allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The answer to a request no route took.
    pub fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let Some(allow) = self.allow_header(req.path()) else {
            return ApiError::not_found("There is no such route.").error_response();
        };
        let mut response = ApiError::method_not_allowed(format!(
            "{} is not served here; this path serves {allow}.",
            req.method()
        ))
        .error_response();
        if let Ok(value) = header::HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_path_lists_its_methods_and_an_unknown_one_none() {
        let table = MethodTable::from_spec(&crate::openapi::spec());
        assert_eq!(
            table.allowed("/api/v1/me"),
            [Method::DELETE, Method::GET, Method::PATCH]
        );
        assert_eq!(
            table.allowed("/api/v1/issues/0190f0a0-0000-7000-8000-000000000000"),
            [Method::GET, Method::PATCH]
        );
        assert_eq!(table.allowed("/api/v1/issues/duplicates"), [Method::GET]);
        assert!(table.allowed("/api/v1/nothing-here").is_empty());
        assert!(table.allowed("/api/v1/issues/x/y/z").is_empty());
    }
}
