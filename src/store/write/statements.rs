//! How many rows go in one multi-row INSERT: a fixed size, with the
//! remainder in power-of-two chunks, so SQLite's statement cache holds a
//! handful of shapes per table instead of one per batch size.

use std::ops::Range;

/// Rows per multi-row INSERT.
const ROWS_PER_STATEMENT: usize = 128;

/// Splits `0..len` into statement-sized chunks.
pub fn chunks(len: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while len - start >= ROWS_PER_STATEMENT {
        out.push(start..start + ROWS_PER_STATEMENT);
        start += ROWS_PER_STATEMENT;
    }
    let mut size = ROWS_PER_STATEMENT / 2;
    while start < len {
        if len - start >= size {
            out.push(start..start + size);
            start += size;
        }
        size /= 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_in_few_shapes() {
        for len in [0, 1, 127, 128, 129, 300, 1000] {
            let ranges = chunks(len);
            let total: usize = ranges.iter().map(|r| r.len()).sum();
            assert_eq!(total, len);
            for r in &ranges {
                assert!(r.len().is_power_of_two() && r.len() <= ROWS_PER_STATEMENT);
            }
        }
    }
}
