//! Size limits on what one request may carry. Every body and every decoded
//! item is checked against these once, in one place, for both transports.

/// How deep arrays and kvlists may nest inside one value, by default.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Limits applied to every ingest request.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body accepted as sent (compressed or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes: a gzip bomb stops here.
    pub max_decompressed_bytes: usize,
    /// Most attributes on one span, event, link, log record, resource or scope.
    pub max_attributes: usize,
    /// Largest single attribute value (string or bytes), in bytes.
    pub max_value_bytes: usize,
    /// Deepest nesting of arrays and kvlists inside one value. The decoders
    /// stop reading a value one level past it, so this also bounds their
    /// recursion on any input.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 << 20,
            max_decompressed_bytes: 128 << 20,
            max_attributes: 4096,
            max_value_bytes: 16 << 20,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}
