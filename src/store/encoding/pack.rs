//! Packs: zstd frames that hold many records (span and log bodies, call
//! content, new blobs) back to back. Rows point into a pack by offset and
//! length within the uncompressed bytes. Compressing a whole request's
//! records together lets zstd see the repetition between them (attribute
//! keys, JSON structure), which per-record compression cannot.
//!
//! This file is the only place that calls zstd, and every decompression is
//! bounded by the pack's recorded size.

use std::io::Read as _;

/// Packs are cut at about this many uncompressed bytes, so reading one
/// record never decompresses more than this.
pub const TARGET_PACK_BYTES: usize = 256 << 10;

/// zstd level for packs written on the ingest path: fast enough to keep up
/// with ingest on modest hardware, and still well ahead of gzip.
pub const INGEST_LEVEL: i32 = 3;

pub const CODEC_RAW: i64 = 0;
pub const CODEC_ZSTD: i64 = 1;

/// Where a record lives: which pack of the batch, and where inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackSlot {
    /// Index into the batch's packs (the writer maps it to a row id).
    pub pack: usize,
    pub offset: u32,
    pub length: u32,
}

/// Which packs a record goes to. Records of one kind compress far better
/// together: message text is prose, while span bodies and call content are
/// structure and blob references that repeat from one turn of a chat to the
/// next. Mixing them in one 256 KiB frame, as the first packs did, cost a
/// fifth of the packed bytes (see docs/benchmarks.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// New blob content: prompts, answers, large attribute values.
    Text = 0,
    /// Span and log bodies and call content.
    Records = 1,
}

const STREAMS: usize = 2;

/// Collects records into packs of about [`TARGET_PACK_BYTES`], one run of
/// packs per [`Stream`].
#[derive(Default)]
pub struct PackBuilder {
    packs: Vec<Vec<u8>>,
    /// The pack each stream is filling, as an index into `packs`.
    open: [Option<usize>; STREAMS],
}

impl PackBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, stream: Stream, record: &[u8]) -> PackSlot {
        let open = &mut self.open[stream as usize];
        let pack = match *open {
            Some(index)
                if self.packs[index].is_empty()
                    || self.packs[index].len() + record.len() <= TARGET_PACK_BYTES =>
            {
                index
            }
            _ => {
                self.packs.push(Vec::new());
                *open = Some(self.packs.len() - 1);
                self.packs.len() - 1
            }
        };
        let raw = &mut self.packs[pack];
        let offset = raw.len() as u32;
        raw.extend_from_slice(record);
        PackSlot {
            pack,
            offset,
            length: record.len() as u32,
        }
    }

    /// Compresses every pack. Runs on the ingest workers, never the writer.
    pub fn finish(self) -> std::io::Result<Vec<EncodedPack>> {
        self.packs
            .iter()
            .map(|raw| compress(raw, INGEST_LEVEL))
            .collect()
    }
}

/// zstd level for exports appended before their acknowledgement: the
/// fastest, since the client waits for it and the append lives only until
/// its export is derived.
pub const APPEND_LEVEL: i32 = 1;

/// Compresses an export's bytes for the append log, as one pack.
pub fn compress_append(raw: &[u8]) -> std::io::Result<EncodedPack> {
    compress(raw, APPEND_LEVEL)
}

/// A pack ready to be stored.
#[derive(Clone, Debug)]
pub struct EncodedPack {
    pub codec: i64,
    pub raw_length: usize,
    pub data: Vec<u8>,
}

#[allow(clippy::disallowed_methods, reason = "this is zstd's one writer")]
fn compress(raw: &[u8], level: i32) -> std::io::Result<EncodedPack> {
    let data = zstd::bulk::compress(raw, level)?;
    if data.len() >= raw.len() {
        return Ok(EncodedPack {
            codec: CODEC_RAW,
            raw_length: raw.len(),
            data: raw.to_vec(),
        });
    }
    Ok(EncodedPack {
        codec: CODEC_ZSTD,
        raw_length: raw.len(),
        data,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("pack has unknown codec {0}")]
    UnknownCodec(i64),
    #[error("pack does not decompress: {0}")]
    Decompress(#[from] std::io::Error),
    #[error("pack decompressed to {actual} bytes, expected {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("record at {offset}+{length} lies outside its pack of {pack_length} bytes")]
    OutOfBounds {
        offset: usize,
        length: usize,
        pack_length: usize,
    },
}

/// Decompresses a stored pack, never producing more than `raw_length` bytes.
#[allow(clippy::disallowed_methods, reason = "this is zstd's one reader")]
pub fn decompress(codec: i64, raw_length: usize, data: &[u8]) -> Result<Vec<u8>, PackError> {
    let raw = match codec {
        CODEC_RAW => data.to_vec(),
        CODEC_ZSTD => {
            let mut raw = Vec::with_capacity(raw_length);
            let decoder = zstd::stream::read::Decoder::new(data)?;
            decoder.take(raw_length as u64 + 1).read_to_end(&mut raw)?;
            raw
        }
        other => return Err(PackError::UnknownCodec(other)),
    };
    if raw.len() != raw_length {
        return Err(PackError::WrongLength {
            expected: raw_length,
            actual: raw.len(),
        });
    }
    Ok(raw)
}

/// The bytes of one record inside a decompressed pack.
pub fn slice(pack: &[u8], offset: usize, length: usize) -> Result<&[u8], PackError> {
    pack.get(offset..offset.saturating_add(length))
        .ok_or(PackError::OutOfBounds {
            offset,
            length,
            pack_length: pack.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_from_their_slots() {
        let mut builder = PackBuilder::new();
        let big = vec![b'x'; TARGET_PACK_BYTES - 10];
        let a = builder.add(Stream::Records, b"first record");
        let b = builder.add(Stream::Records, &big);
        let c = builder.add(Stream::Records, b"third");
        assert_eq!((a.pack, b.pack, c.pack), (0, 1, 1));
        let packs = builder.finish().expect("compresses");
        assert_eq!(packs.len(), 2);
        let raw = decompress(packs[1].codec, packs[1].raw_length, &packs[1].data).expect("raw");
        assert_eq!(
            slice(&raw, c.offset as usize, c.length as usize).expect("in bounds"),
            b"third"
        );
        assert!(packs[1].data.len() < 1000, "repetitive data compresses");
    }

    #[test]
    fn an_empty_record_still_has_a_pack() {
        let mut builder = PackBuilder::new();
        let slot = builder.add(Stream::Text, b"");
        let packs = builder.finish().expect("compresses");
        assert_eq!(slot.pack, 0);
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].raw_length, 0);
    }

    #[test]
    fn decompression_stops_at_the_recorded_length() {
        let raw = vec![0u8; 1 << 20];
        let packed = compress(&raw, INGEST_LEVEL).expect("compresses");
        let error = decompress(packed.codec, 1000, &packed.data).expect_err("too long");
        assert!(matches!(
            error,
            PackError::WrongLength {
                expected: 1000,
                actual: 1001
            }
        ));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A record: random bytes, or a long run of one byte so a few
        /// records cross the pack size without slow generation.
        fn record() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                4 => prop::collection::vec(any::<u8>(), 0..2048),
                1 => (any::<u8>(), 0..TARGET_PACK_BYTES + 4096).prop_map(|(byte, len)| vec![byte; len]),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn every_record_comes_back_from_its_slot(
                records in prop::collection::vec((any::<bool>(), record()), 0..24),
            ) {
                let stream = |text: bool| if text { Stream::Text } else { Stream::Records };
                let mut builder = PackBuilder::new();
                let slots: Vec<PackSlot> = records.iter().map(|(text, r)| builder.add(stream(*text), r)).collect();
                let records_with_streams = records;
                let records: Vec<&Vec<u8>> = records_with_streams.iter().map(|(_, r)| r).collect();
                let packs = builder.finish().expect("compresses");
                let mut raw_packs = Vec::with_capacity(packs.len());
                for pack in &packs {
                    raw_packs.push(decompress(pack.codec, pack.raw_length, &pack.data).expect("decompresses"));
                }
                let mut previous_pack = [0; STREAMS];
                let mut stream_of_pack = std::collections::HashMap::new();
                for ((text, _), slot) in records_with_streams.iter().zip(&slots) {
                    let previous = &mut previous_pack[stream(*text) as usize];
                    prop_assert!(slot.pack >= *previous, "slots go forward through a stream's packs");
                    *previous = slot.pack;
                    let owner = *stream_of_pack.entry(slot.pack).or_insert(*text);
                    prop_assert_eq!(owner, *text, "a pack holds one stream's records");
                }
                for (record, slot) in records.iter().zip(&slots) {
                    let raw = &raw_packs[slot.pack];
                    let bytes = slice(raw, slot.offset as usize, slot.length as usize).expect("in bounds");
                    prop_assert_eq!(bytes, record.as_slice());
                    prop_assert!(slot.pack < packs.len());
                }
                for raw in &raw_packs {
                    // A pack only outgrows the target when one record alone does.
                    let largest = records.iter().map(|r| r.len()).max().unwrap_or(0);
                    prop_assert!(raw.len() <= TARGET_PACK_BYTES.max(largest));
                }
                prop_assert_eq!(packs.is_empty(), records.is_empty());
            }
        }
    }
}
