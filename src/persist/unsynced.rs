//! The bytes written to the open log segment since its last good fsync, kept
//! to write them again should an fsync fail (a failed fsync may drop the
//! written pages).
//!
//! They are kept in the chunks the log wrote them as, not copied into one
//! growing buffer: a second of writes under load is tens of megabytes, which
//! one buffer would copy again on every doubling, hold at up to twice its size,
//! and shift down after each partial fsync. Small chunks (a record or a few)
//! are gathered into shared buffers so that each costs no allocation of its own.

use std::collections::VecDeque;

/// Chunks up to this size are copied into a shared buffer; larger ones are kept as they are.
const SMALL: usize = 16 << 10;

/// Capacity of a shared buffer for small chunks.
const SHARED: usize = 64 << 10;

/// Bytes written since the last good fsync, oldest first.
#[derive(Debug, Default)]
pub struct Unsynced {
    chunks: VecDeque<Vec<u8>>,
    len: u64,
}

impl Unsynced {
    /// Bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Keeps `chunk`, just written after everything held.
    pub fn push(&mut self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len() as u64;
        if chunk.len() > SMALL {
            self.chunks.push_back(chunk);
            return;
        }
        match self.chunks.back_mut() {
            Some(last) if last.capacity() - last.len() >= chunk.len() => {
                last.extend_from_slice(&chunk);
            }
            _ => {
                let mut shared = Vec::with_capacity(SHARED);
                shared.extend_from_slice(&chunk);
                self.chunks.push_back(shared);
            }
        }
    }

    /// Forgets the first `n` bytes held (they are durable now); all of them
    /// when fewer are held.
    pub fn forget(&mut self, n: u64) {
        let mut left = n.min(self.len);
        self.len -= left;
        while left > 0 {
            let Some(first) = self.chunks.front_mut() else {
                break;
            };
            let first_len = first.len() as u64;
            if first_len <= left {
                left -= first_len;
                self.chunks.pop_front();
            } else {
                // `left` is below this chunk's length, so it fits a usize.
                first.drain(..left as usize);
                left = 0;
            }
        }
    }

    /// Forgets everything held.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// The bytes held, in order, as the chunks they are kept in.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(unsynced: &Unsynced) -> Vec<u8> {
        unsynced.chunks().flatten().copied().collect()
    }

    #[test]
    fn bytes_come_back_in_order_and_forget_drops_a_prefix() {
        let mut unsynced = Unsynced::default();
        let mut expected = Vec::new();
        // Small and large chunks mixed, so some are shared and some kept whole.
        for (i, len) in [10, 3, SMALL + 1, 7, 100_000, 1, SHARED]
            .into_iter()
            .enumerate()
        {
            let chunk = vec![i as u8; len];
            expected.extend_from_slice(&chunk);
            unsynced.push(chunk);
        }
        assert_eq!(unsynced.len(), expected.len() as u64);
        assert_eq!(held(&unsynced), expected);
        for cut in [5, 8, 0, SMALL as u64, 100_001, 3] {
            unsynced.forget(cut);
            expected.drain(..cut as usize);
            assert_eq!(held(&unsynced), expected);
            assert_eq!(unsynced.len(), expected.len() as u64);
        }
        unsynced.forget(u64::MAX);
        assert_eq!(unsynced.len(), 0);
        assert_eq!(unsynced.chunks().count(), 0);
    }

    #[test]
    fn small_chunks_share_buffers() {
        let mut unsynced = Unsynced::default();
        for _ in 0..1000 {
            unsynced.push(vec![1; 60]);
        }
        assert_eq!(unsynced.chunks().count(), 1);
        unsynced.push(Vec::new());
        assert_eq!(unsynced.len(), 60_000);
        unsynced.clear();
        assert_eq!(unsynced.len(), 0);
        assert_eq!(held(&unsynced), Vec::<u8>::new());
    }
}
