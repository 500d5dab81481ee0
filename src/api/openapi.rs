//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the JSON API,
//! generated (utoipa) from the handlers' `#[utoipa::path]` attributes and
//! the types they answer with. Each route is registered through
//! `utoipa_axum`'s `routes!`, so the path a handler is served at and the
//! path it is documented at are one string; the integration tests validate
//! real responses against the schemas served here.

use std::sync::LazyLock;

use axum::response::IntoResponse;
use http::header;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ErrorBody;

/// What the document says besides its paths: info, servers, the security
/// schemes and the tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprise",
        description = "Query, export and replay the LLM calls reprise recorded. Every error is `{\"error\": {\"code\", \"message\"}}`. OTLP ingestion (`/v1/traces`, `/v1/logs`, gRPC) follows the OpenTelemetry protocol specification and is not repeated here.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:4318")),
    security((), ("bearer" = []), ("apiKey" = [])),
    tags(
        (name = "calls", description = "The canonical LLM calls: find, read, store and export them."),
        (name = "traces", description = "Spans and log records as received."),
        (name = "sessions", description = "Conversations: the calls that share a session id."),
        (name = "stats", description = "Figures per model, provider, service or time."),
        (name = "costs", description = "Pricing stored calls again."),
        (name = "replays", description = "Replay runs: recorded calls sent again to other targets."),
        (name = "compare", description = "Scoring a replay run against its originals."),
        (name = "health", description = "Health, metrics and this document."),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
)]
pub struct ApiDoc;

/// Bearer API keys (src/auth), in either header.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`reprise keys create`) as `Authorization: Bearer KEY`. \
                         Needed only when the server has keys: `read` for GETs, `ingest` for \
                         POST /api/v1/calls, `metrics` for /metrics, `admin` for other writes.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The same key in `x-api-key`.",
            ))),
        );
    }
}

/// The document, generated from every route of the API.
pub fn document() -> utoipa::openapi::OpenApi {
    super::api_router().into_openapi()
}

/// The document as served, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    document().to_json().unwrap_or_else(|error| {
        tracing::error!(%error, "cannot write the OpenAPI document");
        "{}".to_owned()
    })
});

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi))
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "health",
    summary = "This document.",
    security(()),
    responses(
        (status = 200, description = "OpenAPI 3.1 document.", content_type = "application/json", body = Object),
    ),
)]
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;
    use utoipa::IntoParams;

    use crate::model::filter::CallFilterParams;

    fn document() -> Value {
        serde_json::to_value(super::document()).expect("the document is JSON")
    }

    fn operations(document: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        routes
    }

    /// The routes are documented where they are registered (`routes!`), so
    /// they cannot drift; this says which ones there are, so one dropped
    /// from the API by mistake shows.
    #[test]
    fn the_document_lists_every_operation_once() {
        let document = document();
        let listed = operations(&document);
        let expected: BTreeSet<(String, String)> = [
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/v1/calls"),
            ("POST", "/api/v1/calls"),
            ("GET", "/api/v1/calls/{id}"),
            ("GET", "/api/v1/traces/{trace_id}"),
            ("GET", "/api/v1/logs"),
            ("GET", "/api/v1/sessions/{id}"),
            ("GET", "/api/v1/stats"),
            ("GET", "/api/v1/export"),
            ("POST", "/api/v1/costs/recompute"),
            ("GET", "/api/v1/replays"),
            ("POST", "/api/v1/replays"),
            ("GET", "/api/v1/replays/targets"),
            ("GET", "/api/v1/replays/{id}"),
            ("GET", "/api/v1/replays/{id}/results"),
            ("POST", "/api/v1/replays/{id}/cancel"),
            ("GET", "/api/v1/replays/{id}/comparison"),
            ("POST", "/api/v1/replays/{id}/comparison"),
        ]
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
        assert_eq!(listed, expected);
        let ids: BTreeSet<&str> = document["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().expect("item").values())
            .map(|operation| operation["operationId"].as_str().expect("operationId"))
            .collect();
        assert_eq!(ids.len(), expected.len(), "operation ids are unique");
    }

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let mut pending = vec![&document];
        let mut references = 0;
        while let Some(value) = pending.pop() {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').expect("local reference");
                        assert!(document.pointer(pointer).is_some(), "{target} resolves");
                        references += 1;
                    }
                    pending.extend(map.values());
                }
                Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
        assert!(references > 20, "the document uses its components");
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
        assert!(document["components"]["securitySchemes"]["apiKey"].is_object());
    }

    /// The documented filters: the parameters [`CallFilterParams`] documents.
    fn documented_filters() -> Vec<utoipa::openapi::path::Parameter> {
        CallFilterParams::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
    }

    /// The filter parameters documented are exactly the fields of
    /// [`CallFilterParams`] (`attributes` travels as `attr.KEY`), and every
    /// filtered endpoint lists them all.
    #[test]
    fn the_calls_filters_documented_are_the_filters_accepted() {
        let fields = serde_json::to_value(CallFilterParams::default()).expect("serializes");
        let accepted: BTreeSet<String> = fields
            .as_object()
            .expect("object")
            .keys()
            .map(|k| {
                if k == "attributes" {
                    "attr".into()
                } else {
                    k.clone()
                }
            })
            .collect();
        let documented: BTreeSet<String> =
            documented_filters().into_iter().map(|p| p.name).collect();
        assert_eq!(accepted, documented);
        let document = document();
        for (method, path) in [
            ("get", "/api/v1/calls"),
            ("get", "/api/v1/stats"),
            ("get", "/api/v1/export"),
            ("post", "/api/v1/costs/recompute"),
        ] {
            let listed: BTreeSet<&str> = document["paths"][path][method]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in &documented {
                assert!(
                    listed.contains(name.as_str()),
                    "{method} {path} lists {name}"
                );
            }
        }
    }

    /// Each documented filter is one the query parser takes (a typo in the
    /// document would otherwise send users to a 400).
    #[test]
    fn each_documented_filter_name_is_accepted_by_the_parser() {
        for parameter in documented_filters() {
            let schema = serde_json::to_value(&parameter.schema).expect("schema");
            let name = parameter.name.as_str();
            let query_name = if name == "attr" { "attr.env" } else { name };
            let value = match schema["type"].as_str() {
                Some("number" | "integer") => "5",
                _ => "x",
            };
            let pairs = vec![(query_name.to_owned(), value.to_owned())];
            let parsed = CallFilterParams::from_pairs(&pairs, &[]);
            assert!(parsed.is_ok(), "{name}: {query_name}={value} accepted");
        }
    }
}
