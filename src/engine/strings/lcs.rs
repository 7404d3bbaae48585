//! LCS: the longest common subsequence of two strings by dynamic programming,
//! walked back from the end the way Redis walks it, so that the subsequence
//! and the matching ranges it reports are the ones Redis reports.

use crate::error::CommandError;

/// Redis refuses a table larger than its 512 MiB bulk limit.
const MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

/// One run of consecutive matching bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    /// First and last index in the first string.
    pub a: (usize, usize),
    /// First and last index in the second string.
    pub b: (usize, usize),
}

impl Match {
    /// Number of bytes in the run.
    pub fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The table of LCS lengths of every pair of prefixes.
pub(super) struct Table<'a> {
    a: &'a [u8],
    b: &'a [u8],
    cells: Vec<u32>,
}

impl<'a> Table<'a> {
    /// Fills the table, refusing (before allocating) one Redis would refuse.
    pub fn new(a: &'a [u8], b: &'a [u8]) -> Result<Self, CommandError> {
        let cells = (a.len() as u64 + 1)
            .checked_mul(b.len() as u64 + 1)
            .filter(|cells| cells.saturating_mul(4) <= MAX_TABLE_BYTES)
            .ok_or(CommandError::LcsTooLarge)?;
        let width = b.len() + 1;
        let mut table = Table {
            a,
            b,
            cells: vec![0; usize::try_from(cells).map_err(|_| CommandError::LcsTooLarge)?],
        };
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                table.cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    table.at(i - 1, j - 1) + 1
                } else {
                    table.at(i - 1, j).max(table.at(i, j - 1))
                };
            }
        }
        Ok(table)
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.b.len() + 1) + j]
    }

    /// Length of the longest common subsequence.
    pub fn len(&self) -> usize {
        self.at(self.a.len(), self.b.len()) as usize
    }

    /// The subsequence and its runs, the last run first.
    pub fn walk(&self) -> (Vec<u8>, Vec<Match>) {
        let mut sequence = Vec::with_capacity(self.len());
        let mut runs = Vec::new();
        let mut current: Option<Match> = None;
        let (mut i, mut j) = (self.a.len(), self.b.len());
        while i > 0 && j > 0 {
            if self.a[i - 1] == self.b[j - 1] {
                sequence.push(self.a[i - 1]);
                // Walking backwards, a match extends the run it touches.
                current = Some(match current {
                    Some(run) if run.a.0 == i && run.b.0 == j => Match {
                        a: (i - 1, run.a.1),
                        b: (j - 1, run.b.1),
                    },
                    Some(run) => {
                        runs.push(run);
                        Match {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        }
                    }
                    None => Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    },
                });
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                runs.extend(current.take());
            }
        }
        runs.extend(current);
        sequence.reverse();
        (sequence, runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_example() {
        // Checked against redis-server 7.0.15: LCS key1 key2 IDX WITHMATCHLEN.
        let table = Table::new(b"ohmytext", b"mynewtext").unwrap();
        assert_eq!(table.len(), 6);
        let (sequence, runs) = table.walk();
        assert_eq!(sequence, b"mytext");
        assert_eq!(
            runs,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8)
                },
                Match {
                    a: (2, 3),
                    b: (0, 1)
                },
            ]
        );
        assert_eq!(runs[0].len(), 4);
    }

    #[test]
    fn empty_and_disjoint() {
        let table = Table::new(b"", b"abc").unwrap();
        assert_eq!(table.walk(), (vec![], vec![]));
        let table = Table::new(b"abc", b"xyz").unwrap();
        assert_eq!(table.len(), 0);
        assert!(table.walk().1.is_empty());
    }

    #[test]
    fn refuses_a_huge_table_before_allocating() {
        let big = vec![b'a'; 12_000];
        assert_eq!(
            Table::new(&big, &big).err(),
            Some(CommandError::LcsTooLarge)
        );
    }
}
