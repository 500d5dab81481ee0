//! The memory that request bodies take while they are read, decompressed
//! and decoded, bounded across all requests by one budget.
//!
//! The write queue's budget (`--max-queue-mb`) only counts what waits for
//! the writer. Before that, each request holds its body as sent, its
//! decompressed bytes and what decoding makes of them: 64 concurrent gzip
//! exports of 129 KB each, every one inside the per-request limit, once
//! drove the server to 3.75 GB. Each request now reserves its share before
//! the memory is taken, growing the reservation as the body arrives and as
//! it decompresses; when the budget is spent the request is refused with
//! 429 / RESOURCE_EXHAUSTED and Retry-After, and whatever it held is freed.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::IngestError;

/// The budget is counted in units of this many bytes (a semaphore counts
/// permits in `u32`).
const UNIT: usize = 16 << 10;

/// Each decompressed byte is counted this many times: once as bytes, and
/// once more for the messages decoding builds from them.
pub const DECODED_FACTOR: usize = 2;

/// The budget when none is configured (`--max-inflight-mb`).
pub const DEFAULT_INFLIGHT_BYTES: usize = 64 << 20;

/// The shared budget; cheap to clone.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    capacity_units: usize,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> BodyBudget {
        let capacity_units = bytes.div_ceil(UNIT).clamp(1, u32::MAX as usize);
        BodyBudget {
            permits: Arc::new(Semaphore::new(capacity_units)),
            capacity_units,
        }
    }

    pub fn capacity_bytes(&self) -> usize {
        self.capacity_units * UNIT
    }

    /// Bytes reserved by requests now.
    pub fn reserved_bytes(&self) -> usize {
        (self.capacity_units - self.permits.available_permits()) * UNIT
    }

    /// An empty reservation, to grow as the body arrives.
    pub fn start(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            units: 0,
        }
    }
}

/// One request's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: BodyBudget,
    held: Option<OwnedSemaphorePermit>,
    units: usize,
}

impl Reservation {
    /// Makes the reservation cover `bytes` in all, or refuses: "retry later"
    /// while other requests hold the budget, "too large" past all of it.
    pub fn cover(&mut self, bytes: usize) -> Result<(), IngestError> {
        let wanted = bytes.div_ceil(UNIT);
        if wanted <= self.units {
            return Ok(());
        }
        let refused = || IngestError::BodiesInFlight {
            budget: self.budget.capacity_bytes(),
        };
        // Larger than the whole budget: waiting would never help.
        if wanted > self.budget.capacity_units {
            return Err(IngestError::DecompressedTooLarge {
                limit: self.budget.capacity_bytes() / DECODED_FACTOR,
            });
        }
        let more = self
            .budget
            .permits
            .clone()
            .try_acquire_many_owned((wanted - self.units) as u32)
            .map_err(|_| refused())?;
        match self.held.as_mut() {
            Some(held) => held.merge(more),
            None => self.held = Some(more),
        }
        self.units = wanted;
        Ok(())
    }

    /// Bytes this reservation covers.
    pub fn bytes(&self) -> usize {
        self.units * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_one_budget_and_give_it_back() {
        let budget = BodyBudget::new(4 * UNIT);
        let mut first = budget.start();
        first.cover(3 * UNIT).expect("fits");
        let mut second = budget.start();
        assert!(matches!(
            second.cover(2 * UNIT),
            Err(IngestError::BodiesInFlight { .. })
        ));
        second.cover(UNIT).expect("the last unit fits");
        assert_eq!(budget.reserved_bytes(), 4 * UNIT);
        drop(first);
        second.cover(4 * UNIT).expect("freed by the first");
        assert_eq!(second.bytes(), 4 * UNIT);
    }

    #[test]
    fn one_request_never_takes_more_than_the_budget() {
        let budget = BodyBudget::new(2 * UNIT);
        let mut reservation = budget.start();
        assert!(matches!(
            reservation.cover(3 * UNIT),
            Err(IngestError::DecompressedTooLarge { .. })
        ));
        assert_eq!(budget.reserved_bytes(), 0);
    }
}
