//! The HTTP side of authentication: a layer in front of every route that
//! finds the key, decides the scope the route needs, asks the
//! [`Authorizer`], and puts the [`Principal`] into the request's
//! extensions; and the [`Project`] extractor handlers use to scope their
//! queries and writes.
//!
//! The scope is decided from the method and path alone, here, rather than
//! per handler, so a route added later without thought is refused to
//! everyone but admins instead of being open.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, header};

use super::{AuthError, Authorizer, Principal, Project, Scope};
use crate::error_code::ErrorCode;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: `/healthz` and the UI's static files.
    Open,
    Needs(Scope),
}

/// The scope each route needs.
pub fn access_for(method: &Method, path: &str) -> Access {
    let reads = method == Method::GET || method == Method::HEAD;
    // Health and the API's description hold no data.
    if path == "/healthz" || path == "/api/openapi.json" {
        return Access::Open;
    }
    // Metrics are server-wide: every project's models, tokens and spend. A
    // project's read key must not see the others', so they need a scope of
    // their own. Prometheus sends the key with `authorization: {credentials:
    // KEY}` in its scrape job.
    if path == "/metrics" {
        return Access::Needs(Scope::Metrics);
    }
    if path.starts_with("/v1/") {
        return Access::Needs(Scope::Ingest);
    }
    if let Some(api_path) = path.strip_prefix("/api/") {
        if method == Method::POST && api_path == "v1/calls" {
            return Access::Needs(Scope::Ingest);
        }
        if api_path.starts_with("v1/keys") {
            return Access::Needs(Scope::Admin);
        }
        if reads {
            return Access::Needs(Scope::Read);
        }
        // Replays, cost recomputation, deletes and anything added later.
        return Access::Needs(Scope::Admin);
    }
    if reads {
        // The UI's pages and assets hold no data; the UI sends a key with
        // its API requests.
        return Access::Open;
    }
    Access::Needs(Scope::Admin)
}

/// The key a request carries: `Authorization: Bearer KEY`, else `x-api-key: KEY`.
pub fn key_from_headers(headers: &HeaderMap) -> Option<&str> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    key_from(authorization, x_api_key)
}

/// The key from the two places it may be sent, shared with gRPC metadata.
pub fn key_from<'a>(authorization: Option<&'a str>, x_api_key: Option<&'a str>) -> Option<&'a str> {
    if let Some(value) = authorization {
        let value = value.trim();
        if let Some((scheme, token)) = value.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(token.trim());
        }
    }
    x_api_key.map(str::trim)
}

/// The layer's function: `axum::middleware::from_fn_with_state(authorizer, authenticate)`.
pub async fn authenticate(
    State(authorizer): State<Authorizer>,
    mut request: Request,
    next: Next,
) -> Response {
    let access = access_for(request.method(), request.uri().path());
    let key = key_from_headers(request.headers());
    let result = match access {
        Access::Needs(scope) => authorizer.authorize(key, Some(scope)),
        // Open routes learn who asks when a valid key comes along, and
        // otherwise get no principal at all (and so show no data).
        Access::Open => match authorizer.authorize(key, None) {
            Ok(principal) => Ok(principal),
            Err(_) => return next.run(request).await,
        },
    };
    match result {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => {
            tracing::debug!(%error, path = request.uri().path(), "request refused");
            refusal(&error, request.uri().path(), request.headers())
        }
    }
}

/// 401 with `WWW-Authenticate: Bearer`, or 403; in OTLP's error format on
/// OTLP routes and in the API's everywhere else.
fn refusal(error: &AuthError, path: &str, headers: &HeaderMap) -> Response {
    let code = error.code();
    let message = error.to_string();
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("protobuf"));
    let mut response = if path.starts_with("/v1/") {
        crate::otlp_status::http_response(code, message, protobuf)
    } else {
        let body = serde_json::json!({"error": {"code": code.label(), "message": message}});
        (code.http_status(), axum::Json(body)).into_response()
    };
    if code == ErrorCode::Unauthenticated {
        let challenge = match error {
            AuthError::InvalidKey => r#"Bearer realm="reprise", error="invalid_token""#,
            _ => r#"Bearer realm="reprise""#,
        };
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

/// The project a request acts for, from the principal the layer stored.
/// A request that reached a handler without passing the layer is refused
/// rather than given a project: failing closed is the only safe default.
impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            Some(principal) => Ok(principal.project.clone()),
            None => {
                tracing::error!(
                    path = parts.uri.path(),
                    "a data route was served without the authentication layer"
                );
                let code = ErrorCode::Internal;
                let body = serde_json::json!({"error": {"code": code.label(), "message": "internal error"}});
                Err((code.http_status(), axum::Json(body)).into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_scope_of_what_they_do() {
        let cases = [
            (Method::GET, "/healthz", Access::Open),
            (Method::POST, "/v1/traces", Access::Needs(Scope::Ingest)),
            (Method::POST, "/v1/logs", Access::Needs(Scope::Ingest)),
            (Method::POST, "/api/v1/calls", Access::Needs(Scope::Ingest)),
            (Method::GET, "/api/v1/calls", Access::Needs(Scope::Read)),
            (Method::GET, "/api/v1/calls/abc", Access::Needs(Scope::Read)),
            (Method::GET, "/api/v1/export", Access::Needs(Scope::Read)),
            (Method::GET, "/api/v1/logs", Access::Needs(Scope::Read)),
            (Method::GET, "/api/v1/replays", Access::Needs(Scope::Read)),
            (Method::POST, "/api/v1/replays", Access::Needs(Scope::Admin)),
            (
                Method::POST,
                "/api/v1/replays/x/cancel",
                Access::Needs(Scope::Admin),
            ),
            (
                Method::POST,
                "/api/v1/costs/recompute",
                Access::Needs(Scope::Admin),
            ),
            (
                Method::DELETE,
                "/api/v1/calls/abc",
                Access::Needs(Scope::Admin),
            ),
            (Method::GET, "/api/v1/keys", Access::Needs(Scope::Admin)),
            (Method::GET, "/", Access::Open),
            (Method::GET, "/assets/app.js", Access::Open),
            (Method::GET, "/metrics", Access::Needs(Scope::Metrics)),
            (Method::GET, "/api/openapi.json", Access::Open),
            (Method::POST, "/anything", Access::Needs(Scope::Admin)),
        ];
        for (method, path, expected) in cases {
            assert_eq!(access_for(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn the_key_comes_from_a_bearer_authorization_or_x_api_key() {
        assert_eq!(key_from(Some("Bearer rpk_a"), None), Some("rpk_a"));
        assert_eq!(key_from(Some("bearer  rpk_a "), None), Some("rpk_a"));
        assert_eq!(key_from(None, Some("rpk_b")), Some("rpk_b"));
        assert_eq!(
            key_from(Some("Basic dXNlcg=="), Some("rpk_b")),
            Some("rpk_b")
        );
        assert_eq!(key_from(Some("Basic dXNlcg=="), None), None);
        assert_eq!(key_from(None, None), None);
    }
}
