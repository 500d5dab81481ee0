//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the JSON API.
//!
//! The document is written by hand in `openapi.json` beside this file,
//! because the handlers answer with JSON they build themselves rather than
//! with derived types a generator could read. It is kept true to the code
//! by tests, not by discipline: the tests below fail when a route in
//! `src/api/` is missing from it or a filter parameter is not documented,
//! and the integration tests validate real responses against its schemas.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header;

use super::AppState;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::model::filter::CallFilterParams;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// `(METHOD, path)` for every `.route("…", get(…).post(…))` in the
    /// API's sources.
    fn routes_in_source() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let path = regex::Regex::new(r#"^\s*"([^"]+)""#).expect("regex");
        let method = regex::Regex::new(r"\b(get|post|put|patch|delete)\(").expect("regex");
        let mut routes = BTreeSet::new();
        for entry in std::fs::read_dir(dir).expect("src/api") {
            let file = entry.expect("entry").path();
            if file.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source: String = std::fs::read_to_string(&file)
                .expect("source")
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            // Each `.route("PATH", get(a).post(b))`, which may span lines
            // once formatted: the handlers run to the end of the router.
            for chunk in source.split(".route(").skip(1) {
                let Some(found) = path.captures(chunk) else {
                    continue;
                };
                let rest = &chunk[found.get(0).map_or(0, |m| m.end())..];
                let handlers = rest.split(";").next().unwrap_or("");
                let handlers = handlers.split("\n}").next().unwrap_or("");
                for verb in method.captures_iter(handlers) {
                    routes.insert((verb[1].to_uppercase(), found[1].to_owned()));
                }
            }
        }
        routes
    }

    fn routes_in_document(document: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        routes
    }

    #[test]
    fn every_route_of_the_api_is_documented_and_nothing_else() {
        let in_source = routes_in_source();
        assert!(
            in_source.contains(&("GET".into(), "/api/v1/calls/{id}".into())),
            "the source scan finds routes: {in_source:?}"
        );
        assert_eq!(in_source, routes_in_document(&document()));
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
    }

    /// The filter parameters of `GET /api/v1/calls` are exactly the fields
    /// of [`CallFilterParams`] (`attributes` travels as `attr.KEY`).
    #[test]
    fn the_calls_filters_documented_are_the_filters_accepted() {
        let document = document();
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
        let documented: BTreeSet<String> = document["components"]["parameters"]
            .as_object()
            .expect("parameters")
            .keys()
            .filter_map(|k| k.strip_prefix("filter_").map(str::to_owned))
            .collect();
        assert_eq!(accepted, documented);
        let listed: Vec<&str> = document["paths"]["/api/v1/calls"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .collect();
        for name in &documented {
            let reference = format!("#/components/parameters/filter_{name}");
            assert!(listed.contains(&reference.as_str()), "{name} listed");
        }
    }

    /// Each documented filter is one the query parser takes (a typo in the
    /// document would otherwise send users to a 400).
    #[test]
    fn each_documented_filter_name_is_accepted_by_the_parser() {
        let document = document();
        for (key, parameter) in document["components"]["parameters"]
            .as_object()
            .expect("parameters")
        {
            if !key.starts_with("filter_") {
                continue;
            }
            let name = parameter["name"].as_str().expect("name");
            let query_name = if name == "attr" { "attr.env" } else { name };
            let value = match parameter["schema"]["type"].as_str() {
                Some("number" | "integer") => "5",
                _ => "x",
            };
            let pairs = vec![(query_name.to_owned(), value.to_owned())];
            let parsed = CallFilterParams::from_pairs(&pairs, &[]);
            assert!(parsed.is_ok(), "{key}: {query_name} accepted");
        }
    }
}
