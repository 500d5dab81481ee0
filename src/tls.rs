//! Optional TLS on both ports (`--tls-cert`, `--tls-key`, PEM files).
//!
//! The gRPC port gets it from tonic's own rustls support; the HTTP port
//! from the accept loop in [`crate::server::http`], where each handshake
//! runs in its connection's own task, so a slow or silent client never
//! holds up the others, and times out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("cannot read the TLS private key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error(
        "the certificate {path} holds no certificate (expected PEM `BEGIN CERTIFICATE` blocks)"
    )]
    NoCertificate { path: PathBuf },
    #[error("the TLS certificate and key do not go together: {0}")]
    Mismatch(String),
    #[error("give both --tls-cert and --tls-key, or neither")]
    HalfConfigured,
}

/// The certificate chain and key, read once and used by both ports.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl TlsFiles {
    /// Reads the files named by `--tls-cert` and `--tls-key`; `None` when
    /// neither was given.
    pub fn read(cert: Option<&Path>, key: Option<&Path>) -> Result<Option<TlsFiles>, TlsError> {
        let (cert_path, key_path) = match (cert, key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert.to_path_buf(), key.to_path_buf()),
            _ => return Err(TlsError::HalfConfigured),
        };
        let cert_pem = std::fs::read(&cert_path).map_err(|e| TlsError::Certificate {
            path: cert_path.clone(),
            message: e.to_string(),
        })?;
        let key_pem = std::fs::read(&key_path).map_err(|e| TlsError::Key {
            path: key_path.clone(),
            message: e.to_string(),
        })?;
        Ok(Some(TlsFiles {
            cert_pem,
            key_pem,
            cert_path,
            key_path,
        }))
    }

    /// The rustls configuration for the HTTP port (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut chain = Vec::new();
        for cert in CertificateDer::pem_slice_iter(&self.cert_pem) {
            chain.push(cert.map_err(|e| TlsError::Certificate {
                path: self.cert_path.clone(),
                message: e.to_string(),
            })?);
        }
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: self.cert_path.clone(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| TlsError::Key {
            path: self.key_path.clone(),
            message: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The configuration for tonic's gRPC server.
    pub fn grpc_config(&self) -> tonic::transport::ServerTlsConfig {
        let identity = tonic::transport::Identity::from_pem(&self.cert_pem, &self.key_pem);
        tonic::transport::ServerTlsConfig::new().identity(identity)
    }
}

/// Makes aws-lc-rs the process's rustls provider, which tonic's TLS uses.
/// Another crate may have installed one first; either is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
