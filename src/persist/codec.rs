//! Little-endian encoding helpers and a bounds-checked reader, shared by the
//! log and snapshot formats. Decoding never panics and never allocates more
//! than the input holds.

use crate::engine::{Group, Mutation};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Appends fixed-width and length-prefixed fields to a buffer.
pub trait Put {
    /// A `u16`.
    fn put_u16(&mut self, v: u16);
    /// A `u32`.
    fn put_u32(&mut self, v: u32);
    /// A `u64`.
    fn put_u64(&mut self, v: u64);
    /// Bytes prefixed by their `u32` length.
    fn put_bytes(&mut self, b: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bytes(&mut self, b: &[u8]) {
        // Keys and values are bounded far below 4 GiB by every front-end.
        self.put_u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.extend_from_slice(b);
    }
}

/// Reads fields from a byte slice, failing cleanly at its end.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was consumed.
    pub fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| DecodeError(format!("needs {n} more bytes at offset {}", self.pos)))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    /// A `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Bytes prefixed by their `u32` length.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A UTF-8 namespace name prefixed by its `u16` length.
    pub fn name(&mut self) -> Result<String, DecodeError> {
        let n = usize::from(self.u16()?);
        self.name_of_len(n)
    }
    /// A UTF-8 namespace name of `n` bytes (its length already read).
    pub fn name_of_len(&mut self, n: usize) -> Result<String, DecodeError> {
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError("namespace is not UTF-8".into()))
    }
}

/// Appends a namespace name prefixed by its `u16` length.
pub fn put_name(out: &mut Vec<u8>, name: &str) {
    let bytes = &name.as_bytes()[..name.len().min(usize::from(u16::MAX))];
    out.put_u16(bytes.len() as u16);
    out.extend_from_slice(bytes);
}

/// A deadline on disk: 0 means none.
fn put_deadline(out: &mut Vec<u8>, at: Option<u64>) {
    out.put_u64(at.unwrap_or(0));
}

fn deadline(raw: u64) -> Option<u64> {
    (raw != 0).then_some(raw)
}

/// Tags of mutations in log records.
mod tag {
    pub const PUT: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const EXPIRE: u8 = 3;
    pub const PERSIST: u8 = 4;
    pub const CLEAR: u8 = 5;
}

/// Appends a put mutation from its parts.
pub fn put_put(out: &mut Vec<u8>, key: &[u8], value: &[u8], expires_at: Option<u64>) {
    out.push(tag::PUT);
    out.put_bytes(key);
    out.put_bytes(value);
    put_deadline(out, expires_at);
}

/// Appends one mutation.
pub fn put_mutation(out: &mut Vec<u8>, mutation: &Mutation) {
    match mutation {
        Mutation::Put {
            key,
            value,
            expires_at,
        } => put_put(out, key, value, *expires_at),
        Mutation::Delete(key) => {
            out.push(tag::DELETE);
            out.put_bytes(key);
        }
        Mutation::Expire { key, at } => {
            out.push(tag::EXPIRE);
            out.put_bytes(key);
            out.put_u64(*at);
        }
        Mutation::Persist(key) => {
            out.push(tag::PERSIST);
            out.put_bytes(key);
        }
        Mutation::Clear => out.push(tag::CLEAR),
    }
}

/// Reads one mutation.
pub fn mutation(r: &mut Reader<'_>) -> Result<Mutation, DecodeError> {
    Ok(match r.u8()? {
        tag::PUT => Mutation::Put {
            key: r.bytes()?.into(),
            value: r.bytes()?.into(),
            expires_at: deadline(r.u64()?),
        },
        tag::DELETE => Mutation::Delete(r.bytes()?.into()),
        tag::EXPIRE => Mutation::Expire {
            key: r.bytes()?.into(),
            at: r.u64()?,
        },
        tag::PERSIST => Mutation::Persist(r.bytes()?.into()),
        tag::CLEAR => Mutation::Clear,
        other => return Err(DecodeError(format!("unknown mutation tag {other}"))),
    })
}

/// Tags of groups in multi-group log records.
mod group_tag {
    pub const CHANGES: u8 = 1;
    pub const SWAP: u8 = 2;
}

/// Appends one namespace's mutations: the count, then each mutation.
pub fn put_mutations(out: &mut Vec<u8>, mutations: &[Mutation]) {
    out.put_u32(u32::try_from(mutations.len()).unwrap_or(u32::MAX));
    for mutation in mutations {
        put_mutation(out, mutation);
    }
}

/// Reads one namespace's mutations: the count, then each mutation.
pub fn mutations(r: &mut Reader<'_>) -> Result<Vec<Mutation>, DecodeError> {
    let count = r.u32()? as usize;
    // Every mutation takes at least one byte: never reserve more than is left.
    let mut out = Vec::with_capacity(count.min(r.bytes.len() - r.pos));
    for _ in 0..count {
        out.push(mutation(r)?);
    }
    Ok(out)
}

/// Appends the groups of a multi-group record: the count, then each group.
pub fn put_groups(out: &mut Vec<u8>, groups: &[Group]) {
    out.put_u32(u32::try_from(groups.len()).unwrap_or(u32::MAX));
    for group in groups {
        match group {
            Group::Changes(namespace, mutations) => {
                out.push(group_tag::CHANGES);
                put_name(out, namespace);
                put_mutations(out, mutations);
            }
            Group::Swap(a, b) => {
                out.push(group_tag::SWAP);
                put_name(out, a);
                put_name(out, b);
            }
        }
    }
}

/// Reads the groups of a multi-group record.
pub fn groups(r: &mut Reader<'_>) -> Result<Vec<Group>, DecodeError> {
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(r.bytes.len() - r.pos));
    for _ in 0..count {
        out.push(match r.u8()? {
            group_tag::CHANGES => Group::Changes(r.name()?, mutations(r)?),
            group_tag::SWAP => Group::Swap(r.name()?, r.name()?),
            other => return Err(DecodeError(format!("unknown group tag {other}"))),
        });
    }
    Ok(out)
}

/// Appends one snapshot entry.
pub fn put_entry(out: &mut Vec<u8>, key: &[u8], entry: crate::engine::EntryRef<'_>) {
    out.put_bytes(key);
    out.put_bytes(entry.value);
    put_deadline(out, entry.expires_at);
}

/// A snapshot entry borrowed from the file: key, value, deadline.
pub type EntryRef<'a> = (&'a [u8], &'a [u8], Option<u64>);

/// Reads one snapshot entry.
pub fn entry<'a>(r: &mut Reader<'a>) -> Result<EntryRef<'a>, DecodeError> {
    Ok((r.bytes()?, r.bytes()?, deadline(r.u64()?)))
}

/// Bytes a frame adds before its payload.
pub const FRAME_HEADER: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_round_trip() {
        let all = [
            Mutation::Put {
                key: Box::from(&b"k\x00"[..]),
                value: Box::from(&b""[..]),
                expires_at: Some(123),
            },
            Mutation::Put {
                key: Box::from(&b"k"[..]),
                value: Box::from(&b"v"[..]),
                expires_at: None,
            },
            Mutation::Delete(Box::from(&b"d"[..])),
            Mutation::Expire {
                key: Box::from(&b"e"[..]),
                at: u64::MAX,
            },
            Mutation::Persist(Box::from(&b"p"[..])),
            Mutation::Clear,
        ];
        let mut buf = Vec::new();
        for m in &all {
            put_mutation(&mut buf, m);
        }
        let mut r = Reader::new(&buf);
        for m in &all {
            assert_eq!(&mutation(&mut r).unwrap(), m);
        }
        assert!(r.is_done());
    }

    #[test]
    fn groups_round_trip_and_refuse_bad_input() {
        let all = vec![
            Group::Changes("0".into(), vec![Mutation::Delete(Box::from(&b"k"[..]))]),
            Group::Changes(
                String::new(),
                vec![Mutation::put(&b"k"[..], &b"v"[..], Some(5))],
            ),
            Group::Swap("1".into(), "15".into()),
            Group::Changes("app".into(), vec![Mutation::Clear]),
        ];
        let mut buf = Vec::new();
        put_groups(&mut buf, &all);
        let mut r = Reader::new(&buf);
        assert_eq!(groups(&mut r).unwrap(), all);
        assert!(r.is_done());
        for cut in 0..buf.len() {
            assert!(
                groups(&mut Reader::new(&buf[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        // An unknown group kind, and a count far beyond the input.
        assert!(groups(&mut Reader::new(&[1, 0, 0, 0, 9])).is_err());
        assert!(groups(&mut Reader::new(&[0xff, 0xff, 0xff, 0xff])).is_err());
    }

    #[test]
    fn truncated_and_bogus_input_fails_cleanly() {
        let mut buf = Vec::new();
        put_mutation(&mut buf, &Mutation::Delete(Box::from(&b"key"[..])));
        for cut in 0..buf.len() {
            assert!(
                mutation(&mut Reader::new(&buf[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        assert!(mutation(&mut Reader::new(&[99])).is_err());
        // A length far beyond the input is refused without allocating it.
        let huge = [tag::DELETE, 0xff, 0xff, 0xff, 0xff];
        assert!(mutation(&mut Reader::new(&huge)).is_err());
    }
}
