//! The gRPC side of authentication: an interceptor on the OTLP services
//! that reads the key from the `authorization` (`Bearer KEY`) or
//! `x-api-key` metadata, as `OTEL_EXPORTER_OTLP_HEADERS` sends it, asks the
//! same [`Authorizer`] as HTTP for the `ingest` scope, and puts the
//! [`Principal`] into the request's extensions for the service to read.

use tonic::service::Interceptor;
use tonic::{Request, Status};

use super::http::key_from;
use super::{AuthError, Authorizer, Principal, Project, Scope};

/// Every gRPC service reprise serves is an OTLP export, so one scope.
#[derive(Clone)]
pub struct IngestInterceptor {
    pub authorizer: Authorizer,
}

impl Interceptor for IngestInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata();
        let authorization = metadata.get("authorization").and_then(|v| v.to_str().ok());
        let x_api_key = metadata.get("x-api-key").and_then(|v| v.to_str().ok());
        let key = key_from(authorization, x_api_key);
        match self.authorizer.authorize(key, Some(Scope::Ingest)) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                Ok(request)
            }
            Err(error) => {
                tracing::debug!(%error, "gRPC request refused");
                Err(status(&error))
            }
        }
    }
}

pub fn status(error: &AuthError) -> Status {
    crate::otlp_status::grpc_status(error.code(), error.to_string())
}

/// The project of a request that went through [`IngestInterceptor`].
/// Without a principal the request is refused, never given a project.
pub fn project<T>(request: &Request<T>) -> Result<Project, Status> {
    match request.extensions().get::<Principal>() {
        Some(principal) => Ok(principal.project.clone()),
        None => {
            tracing::error!("a gRPC export was served without the authentication interceptor");
            Err(Status::internal("internal error"))
        }
    }
}
