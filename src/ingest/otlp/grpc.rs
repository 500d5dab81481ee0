//! OTLP/gRPC: TraceService/Export and LogsService/Export, gzip accepted.
//! Both call the same export path as OTLP/HTTP.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use super::grpc_body::Budgeted;
use super::signal::{Logs, OtlpSignal, Traces};
use crate::auth;
use crate::auth::grpc::IngestInterceptor;
use crate::ingest::error::{IngestError, Retry};
use crate::ingest::pipeline::Ingest;
use crate::metrics::{self, Received, Transport};

/// The two OTLP services behind the key check, ready to add to a tonic server.
pub type TraceGrpc = InterceptedService<Budgeted<TraceServiceServer<OtlpGrpc>>, IngestInterceptor>;
pub type LogsGrpc = InterceptedService<Budgeted<LogsServiceServer<OtlpGrpc>>, IngestInterceptor>;

/// The key check runs first, so a request without a valid key is refused
/// before its body takes any memory; then [`Budgeted`] reads and
/// decompresses the body within the budget, and tonic decodes plain frames.
pub fn services(ingest: Ingest, interceptor: IngestInterceptor) -> (TraceGrpc, LogsGrpc) {
    let max = ingest.limits.max_decompressed_bytes;
    let limits = ingest.limits.clone();
    let budget = ingest.body_budget.clone();
    let receiver = OtlpGrpc { ingest };
    let traces = TraceServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let logs = LogsServiceServer::new(receiver)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    (
        InterceptedService::new(
            Budgeted::new(traces, limits.clone(), budget.clone()),
            interceptor.clone(),
        ),
        InterceptedService::new(Budgeted::new(logs, limits, budget), interceptor),
    )
}

#[derive(Clone)]
pub struct OtlpGrpc {
    ingest: Ingest,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.export_signal::<Traces>(request).await
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.export_signal::<Logs>(request).await
    }
}

impl OtlpGrpc {
    async fn export_signal<S: OtlpSignal>(
        &self,
        request: Request<S::Request>,
    ) -> Result<Response<S::Response>, Status> {
        let ingest = self.ingest.for_project(&auth::grpc::project(&request)?);
        let started = Instant::now();
        let request = request.into_inner();
        // tonic has decompressed and decoded the body; its encoded length
        // is the payload size, as the HTTP receiver counts it.
        let received = Received {
            payload_bytes: request.encoded_len(),
            items: Some(S::item_count(&request)),
        };
        let result = async {
            let _slot = ingest.decode_slot().await?;
            S::export(&ingest, request).await
        }
        .await;
        metrics::otlp_export(
            Transport::Grpc,
            S::SIGNAL,
            received,
            &result,
            started.elapsed(),
        );
        let outcome = result.map_err(|e| status(&e))?;
        Ok(Response::new(S::response(&outcome)))
    }
}

/// `google.rpc.RetryInfo`, which makes RESOURCE_EXHAUSTED retryable for OTLP clients.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<prost_types_duration::Duration>,
}

mod prost_types_duration {
    /// `google.protobuf.Duration`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// `google.protobuf.Any`, as carried in `google.rpc.Status.details`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.Status` with details, as tonic sends it in `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

pub(super) fn status(error: &IngestError) -> Status {
    if let IngestError::Internal(detail) = error {
        tracing::error!(detail, "ingest failed");
    }
    let code = error.grpc_code();
    let message = error.public_message();
    match error.retry() {
        Retry::Never => Status::new(code, message),
        Retry::After(delay) => {
            let details = RpcStatus {
                code: code as i32,
                message: message.clone(),
                details: vec![retry_info(delay)],
            };
            Status::with_details(code, message, details.encode_to_vec().into())
        }
    }
}

fn retry_info(delay: Duration) -> Any {
    let info = RetryInfo {
        retry_delay: Some(prost_types_duration::Duration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    };
    Any {
        type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
        value: info.encode_to_vec(),
    }
}
