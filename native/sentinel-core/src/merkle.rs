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
