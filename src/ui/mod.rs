//! The web UI that `reprise serve` serves at `/` on the HTTP port: plain
//! HTML, CSS and JavaScript modules written by hand ([`assets`]), which
//! read everything they show from the JSON API. Pages are rendered in the
//! browser, so every path that is not the API, OTLP, `/healthz` or
//! `/metrics` answers with `index.html` and the page's script picks the
//! view from the URL; a link to `/calls/01J…` works when opened directly.
//!
//! Paths the UI must never shadow get the API's JSON 404 instead, so a
//! mistyped API URL is an error a script can read rather than a web page.

pub mod assets;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

use crate::api::error::ApiError;
use assets::{Asset, BUNDLE};

/// Path prefixes that belong to the API, the receivers and operations.
const RESERVED: &[&str] = &["/api", "/v1", "/healthz", "/metrics", "/ui"];

pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/{version}/{*path}", get(asset))
        .fallback(fallback)
}

async fn index(headers: HeaderMap) -> Response {
    index_response(&headers)
}

fn index_response(headers: &HeaderMap) -> Response {
    let bundle = &*BUNDLE;
    respond(
        headers,
        "text/html; charset=utf-8",
        &bundle.index_etag,
        // Names the current asset version, so it must be revalidated.
        "no-cache",
        Body::from(bundle.index_html.clone()),
    )
}

async fn asset(Path((version, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let bundle = &*BUNDLE;
    let Some(file) = bundle.file(&path) else {
        return (StatusCode::NOT_FOUND, "no such UI file").into_response();
    };
    // A page from an older build asks for its own version; it gets today's
    // file, which must then not be cached under the old URL for good.
    let cache = if version == bundle.version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    file_response(&headers, file, cache)
}

fn file_response(headers: &HeaderMap, file: &Asset, cache: &'static str) -> Response {
    respond(
        headers,
        file.content_type,
        &file.etag,
        cache,
        Body::from(file.body),
    )
}

/// The body with its caching headers, or 304 when the client holds it.
fn respond(
    request: &HeaderMap,
    content_type: &'static str,
    etag: &str,
    cache: &'static str,
    body: Body,
) -> Response {
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, etag_value);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !fresh {
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

/// Client-side routes get `index.html`; reserved paths a JSON 404.
async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if is_reserved(path) {
        return ApiError::NotFound(format!("route {method} {path}")).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    index_response(&headers)
}

fn is_reserved(path: &str) -> bool {
    RESERVED.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_path(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn client_side_routes_serve_the_index_page() {
        for path in [
            "/",
            "/calls",
            "/calls/01JD3T8Q3W9J5M6Z4X8Y2K7B1C",
            "/models?since=7d",
            "/apiary",
        ] {
            let (status, headers, body) = get_path(path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            assert_eq!(body, BUNDLE.index_html.as_bytes(), "{path}");
        }
    }

    #[tokio::test]
    async fn reserved_paths_are_never_shadowed() {
        for path in [
            "/api",
            "/api/v1/nothing",
            "/v1/nothing",
            "/healthz",
            "/metrics",
            "/ui/x",
        ] {
            let (status, headers, body) = get_path(path, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{path}");
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
            assert_eq!(json["error"]["code"], "not_found", "{path}");
        }
    }

    #[tokio::test]
    async fn assets_are_immutable_under_their_version_and_revalidated_otherwise() {
        let path = format!("{}pages/calls.js", BUNDLE.prefix);
        let (status, headers, body) = get_path(&path, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(!body.is_empty());

        let (status, headers, _) = get_path("/ui/0000000000000000/app.css", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");

        let (status, _, _) = get_path(&format!("{}missing.js", BUNDLE.prefix), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_matching_etag_is_answered_not_modified() {
        let path = format!("{}app.js", BUNDLE.prefix);
        let (_, headers, _) = get_path(&path, &[]).await;
        let etag = headers[header::ETAG].to_str().expect("ascii").to_owned();
        let (status, headers, body) =
            get_path(&path, &[("if-none-match", &format!("\"other\", {etag}"))]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(headers[header::ETAG], etag.as_str());
        assert!(body.is_empty());

        let (status, _, _) = get_path("/", &[("if-none-match", &BUNDLE.index_etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn other_methods_on_pages_are_not_allowed() {
        let response = router()
            .oneshot(
                Request::post("/calls")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
    }
}
