//! The on-disk layout of a prebuilt vocabulary, shared by `build.rs` (which
//! writes it) and the tokenizer (which reads it in place, with no set-up).
//!
//! Layout, all integers little-endian `u32`:
//!
//! ```text
//! n_tokens | capacity | offsets[n_tokens + 1] | slots[capacity] | token bytes
//! ```
//!
//! Token `i` (its BPE rank) is `bytes[offsets[i]..offsets[i + 1]]`. `slots` is
//! an open-addressing hash table (linear probing, capacity a power of two,
//! load ≤ 0.5) of token ids keyed by [`hash`] of the token's bytes; an empty
//! slot holds `u32::MAX`.

/// Marks an empty slot.
pub const EMPTY: u32 = u32::MAX;

/// A fast, fixed hash of a byte string (the same on every platform, since the
/// table is built once and read everywhere). 64-bit multiply-rotate over
/// 8-byte words; tokens are short, so this is a few instructions.
pub fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Serialize a vocabulary given in rank order.
/// (Used by `build.rs`; in the library only by tests.)
#[cfg_attr(not(test), allow(dead_code))]
pub fn write(tokens: &[Vec<u8>]) -> Vec<u8> {
    let n = tokens.len();
    let capacity = (n * 2).next_power_of_two();
    let mask = capacity - 1;
    let mut slots = vec![EMPTY; capacity];
    for (id, t) in tokens.iter().enumerate() {
        let mut i = hash(t) as usize & mask;
        while slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        slots[i] = id as u32;
    }
    let total: usize = tokens.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(8 + 4 * (n + 1 + capacity) + total);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&(capacity as u32).to_le_bytes());
    let mut at = 0u32;
    for t in tokens {
        out.extend_from_slice(&at.to_le_bytes());
        at += t.len() as u32;
    }
    out.extend_from_slice(&at.to_le_bytes());
    for s in slots {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for t in tokens {
        out.extend_from_slice(t);
    }
    out
}

/// A vocabulary read in place from its serialized bytes.
#[derive(Clone, Copy)]
pub struct Vocab<'a> {
    n: usize,
    mask: usize,
    offsets: &'a [u8],
    slots: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> Vocab<'a> {
    /// Check the header and split the sections. `None` if the data is not a
    /// vocabulary (a build problem, never user input).
    pub fn new(data: &'a [u8]) -> Option<Vocab<'a>> {
        let n = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?) as usize;
        let capacity = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?) as usize;
        if !capacity.is_power_of_two() || capacity < n {
            return None;
        }
        let off_end = 8 + 4 * (n + 1);
        let slots_end = off_end + 4 * capacity;
        let offsets = data.get(8..off_end)?;
        let slots = data.get(off_end..slots_end)?;
        let bytes = data.get(slots_end..)?;
        let v = Vocab {
            n,
            mask: capacity - 1,
            offsets,
            slots,
            bytes,
        };
        (v.offset(n) == bytes.len()).then_some(v)
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn len(&self) -> usize {
        self.n
    }

    fn offset(&self, i: usize) -> usize {
        let b = &self.offsets[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    fn slot(&self, i: usize) -> u32 {
        let b = &self.slots[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The bytes of token `id`.
    pub fn token(&self, id: u32) -> &'a [u8] {
        let id = id as usize;
        &self.bytes[self.offset(id)..self.offset(id + 1)]
    }

    /// The rank (token id) of a byte string, if it is a token.
    pub fn rank(&self, piece: &[u8]) -> Option<u32> {
        let mut i = hash(piece) as usize & self.mask;
        loop {
            let id = self.slot(i);
            if id == EMPTY {
                return None;
            }
            if self.token(id) == piece {
                return Some(id);
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_table_reads_back_every_rank_and_nothing_else() {
        let tokens: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| format!("tok{i}").into_bytes())
            .chain([
                Vec::new(),
                b"\xff\x00".to_vec(),
                b"a longer token of many bytes".to_vec(),
            ])
            .collect();
        let data = write(&tokens);
        let v = Vocab::new(&data).expect("valid layout");
        assert_eq!(v.len(), tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            assert_eq!(v.rank(t), Some(id as u32));
            assert_eq!(v.token(id as u32), t.as_slice());
        }
        assert_eq!(v.rank(b"tok5000"), None);
        assert_eq!(v.rank(b"tok"), None);
        // A truncated table is refused, not read out of bounds.
        assert!(Vocab::new(&data[..data.len() - 1]).is_none());
        assert!(Vocab::new(&data[..6]).is_none());
    }
}
