//! OTLP/gRPC: TraceService/Export and LogsService/Export, gzip accepted.
//! Both call the same export path as OTLP/HTTP.
//!
//! The services are written out here rather than taken from the code
//! `opentelemetry-proto` generates, because that code decodes the request
//! with prost's codec inside tonic: a body nesting values past prost's
//! recursion limit failed whole, and any decode failure came back as
//! `INTERNAL`. Here tonic hands over the message bytes (decompressed
//! within the memory budget by [`super::grpc_body`]) and the same bounded decoder as
//! OTLP/HTTP protobuf reads them ([`super::protobuf`]), so one bad value
//! rejects only its item and a malformed message is `INVALID_ARGUMENT`.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::time::Instant;

use bytes::{Buf as _, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings};
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use tonic_prost::ProstEncoder;

use super::grpc_body::Budgeted;
use super::signal::{Logs, OtlpSignal, Traces};
use crate::auth;
use crate::auth::grpc::IngestInterceptor;
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::Ingest;
use crate::metrics::{self, Received, Transport};

/// The two OTLP services behind the key check, ready to add to a tonic server.
pub type TraceGrpc = InterceptedService<Budgeted<OtlpService<Traces>>, IngestInterceptor>;
pub type LogsGrpc = InterceptedService<Budgeted<OtlpService<Logs>>, IngestInterceptor>;

/// The key check runs first, so a request without a valid key is refused
/// before its body takes any memory; then [`Budgeted`] reads and
/// decompresses the body within the budget, and tonic hands the plain
/// message bytes to [`OtlpService`].
pub fn services(ingest: Ingest, interceptor: IngestInterceptor) -> (TraceGrpc, LogsGrpc) {
    let limits = ingest.limits.clone();
    let budget = ingest.body_budget.clone();
    (
        InterceptedService::new(
            Budgeted::new(
                OtlpService::new(ingest.clone()),
                limits.clone(),
                budget.clone(),
            ),
            interceptor.clone(),
        ),
        InterceptedService::new(
            Budgeted::new(OtlpService::new(ingest), limits, budget),
            interceptor,
        ),
    )
}

/// The gRPC service of one signal: its one method, `Export`.
pub struct OtlpService<S> {
    ingest: Ingest,
    signal: PhantomData<fn() -> S>,
}

impl<S> OtlpService<S> {
    fn new(ingest: Ingest) -> Self {
        Self {
            ingest,
            signal: PhantomData,
        }
    }
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        Self::new(self.ingest.clone())
    }
}

impl<S: OtlpSignal> NamedService for OtlpService<S> {
    const NAME: &'static str = S::GRPC_SERVICE;
}

impl<S, B> Service<http::Request<B>> for OtlpService<S>
where
    S: OtlpSignal + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let is_export = request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|path| path.strip_prefix(S::GRPC_SERVICE))
            == Some("/Export");
        if !is_export {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let method = ExportMethod::<S> {
            ingest: self.ingest.clone(),
            signal: PhantomData,
        };
        // [`Budgeted`] has decompressed the body already; the size limit
        // stays as a second guard.
        let max = self.ingest.limits.max_decompressed_bytes;
        let mut gzip = EnabledCompressionEncodings::default();
        gzip.enable(CompressionEncoding::Gzip);
        Box::pin(async move {
            let mut grpc = Grpc::new(ExportCodec::<S::Response>(PhantomData))
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(max), None);
            Ok(grpc.unary(method, request).await)
        })
    }
}

/// Responses encoded by prost; requests passed on as the message's bytes.
struct ExportCodec<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + 'static> Codec for ExportCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ProstEncoder<R>;
    type Decoder = MessageBytes;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageBytes
    }
}

/// A "decoder" that keeps the message as bytes, for [`OtlpSignal::decode_protobuf`].
struct MessageBytes;

impl Decoder for MessageBytes {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

struct ExportMethod<S> {
    ingest: Ingest,
    signal: PhantomData<fn() -> S>,
}

impl<S: OtlpSignal + 'static> UnaryService<Bytes> for ExportMethod<S> {
    type Response = S::Response;
    type Future = BoxFuture<Response<S::Response>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let ingest = self.ingest.clone();
        Box::pin(export::<S>(ingest, request))
    }
}

async fn export<S: OtlpSignal>(
    ingest: Ingest,
    request: Request<Bytes>,
) -> Result<Response<S::Response>, Status> {
    let ingest = ingest.for_project(&auth::grpc::project(&request)?);
    let started = Instant::now();
    let body = request.into_inner();
    // tonic has decompressed the body; its length is the payload size, as
    // the HTTP receiver counts it.
    let mut received = Received {
        payload_bytes: body.len(),
        items: None,
    };
    let result = async {
        let _slot = ingest.decode_slot().await?;
        let request = decode::<S>(body, ingest.limits.max_depth).await?;
        received.items = Some(S::item_count(&request));
        S::export(&ingest, request).await
    }
    .await;
    metrics::otlp_export(
        Transport::Grpc,
        S::SIGNAL,
        received,
        super::metrics_export(&result),
        started.elapsed(),
    );
    let outcome = result.map_err(|e| e.grpc_status())?;
    Ok(Response::new(S::response(&outcome)))
}

async fn decode<S: OtlpSignal>(body: Bytes, max_depth: usize) -> Result<S::Request, IngestError> {
    tokio::task::spawn_blocking(move || S::decode_protobuf(body, max_depth))
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
        .map_err(|message| IngestError::Malformed {
            format: "protobuf",
            message,
        })
}
