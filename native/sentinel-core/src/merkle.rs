//! Merkle tree hashing as specified by RFC 6962 section 2.1 (kept unchanged by RFC 9162).
//!
//! Leaves and interior nodes are hashed with distinct one-byte prefixes (0x00 and 0x01) so that
//! an interior node can never be passed off as a leaf (the second-preimage attack on naive
//! Merkle trees). The tree over `n` leaves is the RFC's left-full tree: the left subtree holds
//! the largest power of two strictly below `n`.

use sha2::{Digest, Sha256};

use crate::error::{CoreError, CoreResult};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 || data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Converts a batch of byte strings that must each be a digest, naming the first bad one.
pub fn digests_from_slices<T: AsRef<[u8]>>(items: &[T]) -> CoreResult<Vec<Hash>> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let bytes = item.as_ref();
            Hash::try_from(bytes).map_err(|_| CoreError::DigestLength {
                index,
                found: bytes.len(),
            })
        })
        .collect()
}

/// The RFC 6962 Merkle tree hash over already-hashed leaves.
///
/// Works level by level in place: pairs are combined and an unpaired last node moves up
/// unchanged, which yields exactly the RFC's left-full tree without recursion.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    if leaf_hashes.is_empty() {
        return empty_root();
    }
    let mut level = leaf_hashes.to_vec();
    while level.len() > 1 {
        let pairs = level.len() / 2;
        for i in 0..pairs {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        if level.len() % 2 == 1 {
            level[pairs] = level[level.len() - 1];
            level.truncate(pairs + 1);
        } else {
            level.truncate(pairs);
        }
    }
    level[0]
}

/// Largest power of two strictly smaller than `n` (n >= 2): the RFC's split point `k`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// An append-only Merkle tree that keeps every complete subtree, so roots of any earlier
/// size and inclusion and consistency proofs cost O(log^2 n) hashes instead of O(n).
#[derive(Debug, Default, Clone)]
pub struct MerkleTree {
    /// `levels[l][i]` is the hash of the complete subtree over leaves `[i*2^l, (i+1)*2^l)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |level| level.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one leaf hash (already `SHA-256(0x00 || data)`).
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut level = 0;
        let mut carry = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(carry);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            carry = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
    }

    /// Appends leaf hashes in order.
    pub fn extend(&mut self, leaf_hashes: &[Hash]) {
        for hash in leaf_hashes {
            self.push(*hash);
        }
    }

    /// The hash of the complete subtree over leaves `[index * 2^level, (index + 1) * 2^level)`,
    /// or `None` while the tree does not hold all of those leaves.
    pub fn subtree(&self, level: u32, index: u64) -> Option<Hash> {
        self.levels
            .get(level as usize)
            .and_then(|hashes| hashes.get(usize::try_from(index).ok()?))
            .copied()
    }

    fn check_size(&self, size: u64) -> CoreResult<()> {
        if size > self.len() {
            return Err(CoreError::TreeSize {
                size,
                len: self.len(),
            });
        }
        Ok(())
    }

    /// MTH over leaves `[start, start + n)`, n >= 1, from stored complete subtrees.
    fn range_hash(&self, start: u64, n: u64) -> Hash {
        if n.is_power_of_two() && start % n == 0 {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][(start / n) as usize];
        }
        let k = split_point(n);
        node_hash(
            &self.range_hash(start, k),
            &self.range_hash(start + k, n - k),
        )
    }

    /// The root of the tree as it was when it had `size` leaves.
    pub fn root(&self, size: u64) -> CoreResult<Hash> {
        self.check_size(size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.range_hash(0, size)
        })
    }

    /// RFC 9162 section 2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> CoreResult<Vec<Hash>> {
        self.check_size(size)?;
        if index >= size {
            return Err(CoreError::LeafIndex { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, proof: &mut Vec<Hash>) {
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, proof);
            proof.push(self.range_hash(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, proof);
            proof.push(self.range_hash(start, k));
        }
    }

    /// RFC 9162 section 2.1.4.1: proof that the tree of `old_size` leaves is a prefix of
    /// the tree of `new_size` leaves. Empty when the sizes are equal.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> CoreResult<Vec<Hash>> {
        self.check_size(new_size)?;
        if old_size == 0 || old_size > new_size {
            return Err(CoreError::ConsistencyRange { old_size, new_size });
        }
        let mut proof = Vec::new();
        if old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, complete: bool, proof: &mut Vec<Hash>) {
        if m == n {
            if !complete {
                proof.push(self.range_hash(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, complete, proof);
            proof.push(self.range_hash(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, proof);
            proof.push(self.range_hash(start, k));
        }
    }
}

/// RFC 9162 section 2.1.3.2: checks an inclusion proof against a root.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

/// RFC 9162 section 2.1.4.2: checks a consistency proof between two roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    &fr == old_root && &sr == new_root && sn == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6962's recursive definition, written as in the RFC, as the oracle.
    fn recursive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                node_hash(&recursive_root(&leaves[..k]), &recursive_root(&leaves[k..]))
            }
        }
    }

    fn tree_of(n: u64) -> (MerkleTree, Vec<Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut tree = MerkleTree::new();
        tree.extend(&leaves);
        (tree, leaves)
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_size() {
        let (tree, leaves) = tree_of(70);
        for size in 1..=70u64 {
            let root = tree.root(size).unwrap();
            assert_eq!(root, recursive_root(&leaves[..size as usize]));
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                assert!(verify_inclusion(
                    &leaves[index as usize],
                    index,
                    size,
                    &proof,
                    &root
                ));
                let other = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(&other, index, size, &proof, &root));
            }
            for old in 1..=size {
                let proof = tree.consistency_proof(old, size).unwrap();
                let old_root = tree.root(old).unwrap();
                assert!(
                    verify_consistency(old, size, &old_root, &root, &proof),
                    "{old} -> {size}"
                );
                if old < size {
                    assert!(!verify_consistency(old, size, &root, &root, &proof));
                }
            }
        }
    }

    #[test]
    fn subtrees_are_the_roots_of_complete_aligned_ranges() {
        let (tree, leaves) = tree_of(70);
        for level in 0..8u32 {
            let width = 1usize << level;
            for index in 0..(70 / width) {
                let range = &leaves[index * width..(index + 1) * width];
                assert_eq!(
                    tree.subtree(level, index as u64),
                    Some(recursive_root(range))
                );
            }
            assert_eq!(tree.subtree(level, (70 / width) as u64), None);
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let (tree, _) = tree_of(5);
        assert_eq!(tree.root(6), Err(CoreError::TreeSize { size: 6, len: 5 }));
        assert_eq!(
            tree.inclusion_proof(5, 5),
            Err(CoreError::LeafIndex { index: 5, size: 5 })
        );
        assert_eq!(
            tree.consistency_proof(0, 5),
            Err(CoreError::ConsistencyRange {
                old_size: 0,
                new_size: 5
            })
        );
    }

    #[test]
    fn empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn rfc6962_reference_vectors() {
        // The eight leaves used by the certificate-transparency test suites.
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let leaves: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(
                hex::encode(root(&leaves[..=n])),
                *want,
                "tree of {} leaves",
                n + 1
            );
        }
    }

    #[test]
    fn digest_length_error_names_the_item() {
        let items: Vec<Vec<u8>> = vec![vec![0; 32], vec![0; 31]];
        assert_eq!(
            digests_from_slices(&items),
            Err(CoreError::DigestLength {
                index: 1,
                found: 31
            })
        );
    }

    proptest! {
        #[test]
        fn iterative_root_matches_rfc_recursion(seeds in proptest::collection::vec(any::<u64>(), 0..200)) {
            let leaves: Vec<Hash> = seeds.iter().map(|s| leaf_hash(&s.to_le_bytes())).collect();
            prop_assert_eq!(root(&leaves), recursive_root(&leaves));
        }
    }
}
