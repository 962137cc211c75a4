//! The hash chain: `hash_i = SHA-256(hash_{i-1} || canonical_i)`, from 32 zero bytes.

use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The `prev_hash` of the first event of a log.
pub const GENESIS: Hash = [0u8; 32];

/// The hash of one event given its predecessor's hash and its canonical bytes.
pub fn link_hash(prev: &Hash, canonical: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical);
    hasher.finalize().into()
}

/// Extends a chain whose last hash is `prev` by each canonical record in turn.
pub fn extend<T: AsRef<[u8]>>(prev: &Hash, records: &[T]) -> Vec<Hash> {
    let mut out = Vec::with_capacity(records.len());
    let mut last = *prev;
    for record in records {
        last = link_hash(&last, record.as_ref());
        out.push(last);
    }
    out
}

/// Indices `i` where `hashes[i] != SHA-256(prevs[i] || records[i])`: events whose stored
/// hash does not match their own content and stored predecessor. Lengths must match.
pub fn mismatched_links<T: AsRef<[u8]>>(
    prevs: &[Hash],
    records: &[T],
    hashes: &[Hash],
) -> Vec<usize> {
    prevs
        .iter()
        .zip(records)
        .zip(hashes)
        .enumerate()
        .filter(|(_, ((prev, record), stored))| &link_hash(prev, record.as_ref()) != *stored)
        .map(|(index, _)| index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_is_a_left_fold_of_link_hash() {
        let records = [b"a".as_slice(), b"bc", b""];
        let hashes = extend(&GENESIS, &records);
        let mut prev = GENESIS;
        for (record, hash) in records.iter().zip(&hashes) {
            prev = link_hash(&prev, record);
            assert_eq!(&prev, hash);
        }
        let mut tampered = hashes.clone();
        tampered[1][0] ^= 1;
        let prevs = [GENESIS, hashes[0], hashes[1]];
        assert_eq!(
            mismatched_links(&prevs, &records, &hashes),
            Vec::<usize>::new()
        );
        assert_eq!(mismatched_links(&prevs, &records, &tampered), vec![1]);
    }
}
