//! The digest of a control plane's observation (`Observation.digest` in
//! `sentinel/control/observation.py`, its Python reference; a hypothesis test pins them).
//!
//! SHA-256 over `sentinel-control-observation/1\n`, then `plane|tick|count\n`, the targets
//! joined by U+001F, and per column in name order `\nname\n` and the column's values as
//! little-endian float64 with every NaN written as the one pattern of Python's `math.nan`.
//! A storm iteration hashes ~80 kB this way; in Python the table was stacked, copied and
//! sliced first (about a tenth of the iteration).

use sha2::{Digest, Sha256};

/// The first bytes hashed (the format's version).
pub const DIGEST_VERSION: &[u8] = b"sentinel-control-observation/1\n";
/// The bits every NaN is hashed as (`math.nan`, numpy's `np.nan`).
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;
/// Values converted per update of the hasher.
const CHUNK: usize = 512;

/// An observation's digest, written column by column.
pub struct ObservationDigest {
    sha: Sha256,
}

impl ObservationDigest {
    /// Starts with the version, the header line and the targets joined by U+001F.
    pub fn new<'a>(
        plane: &str,
        tick: i64,
        targets: impl ExactSizeIterator<Item = &'a str>,
    ) -> Self {
        let count = targets.len();
        let mut joined = Vec::with_capacity(count * 12);
        for (n, target) in targets.enumerate() {
            if n > 0 {
                joined.push(0x1f);
            }
            joined.extend_from_slice(target.as_bytes());
        }
        Self::with_joined_targets(plane, tick, count, &joined)
    }

    /// [`ObservationDigest::new`] with the `count` targets already joined by U+001F.
    pub fn with_joined_targets(plane: &str, tick: i64, count: usize, joined: &[u8]) -> Self {
        let mut sha = Sha256::new();
        sha.update(DIGEST_VERSION);
        sha.update(format!("{plane}|{tick}|{count}\n").as_bytes());
        sha.update(joined);
        ObservationDigest { sha }
    }

    /// Adds one column held as a slice: hashed where it lies when no value is NaN (on a
    /// little-endian machine, its bytes are already the little-endian float64 hashed).
    pub fn column_slice(&mut self, name: &str, values: &[f64]) {
        if cfg!(target_endian = "little") && !values.iter().any(|v| v.is_nan()) {
            self.sha.update(b"\n");
            self.sha.update(name.as_bytes());
            self.sha.update(b"\n");
            // SAFETY: an f64 is 8 initialised bytes with no padding, a u8 needs no
            // alignment, and the byte view lives no longer than `values`, which it reads.
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    values.as_ptr().cast::<u8>(),
                    std::mem::size_of_val(values),
                )
            };
            self.sha.update(bytes);
        } else {
            self.column(name, values.iter().copied());
        }
    }

    /// Adds one column (the caller gives them in name order).
    pub fn column(&mut self, name: &str, values: impl Iterator<Item = f64>) {
        self.sha.update(b"\n");
        self.sha.update(name.as_bytes());
        self.sha.update(b"\n");
        let mut buffer = [0u8; CHUNK * 8];
        let mut filled = 0;
        for value in values {
            let bits = if value.is_nan() {
                CANONICAL_NAN
            } else {
                value.to_bits()
            };
            buffer[filled..filled + 8].copy_from_slice(&bits.to_le_bytes());
            filled += 8;
            if filled == buffer.len() {
                self.sha.update(buffer);
                filled = 0;
            }
        }
        self.sha.update(&buffer[..filled]);
    }

    /// The digest as lowercase hex.
    pub fn finish(self) -> String {
        hex::encode(self.sha.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nan_is_hashed_alike() {
        let digest = |value: f64| {
            let mut d = ObservationDigest::new("agent", 60, ["A"].into_iter());
            d.column("x", [value].into_iter());
            d.finish()
        };
        let other_nan = f64::from_bits(0xfff8_0000_0000_0001);
        assert!(other_nan.is_nan());
        assert_eq!(digest(f64::NAN), digest(other_nan));
        assert_ne!(digest(1.0), digest(f64::NAN));
    }

    #[test]
    fn a_slice_hashes_as_its_values() {
        for values in [vec![1.5, -0.0, 7e300], vec![2.0, f64::NAN, 3.0], vec![]] {
            let mut by_slice = ObservationDigest::new("agent", 60, ["A", "B"].into_iter());
            by_slice.column_slice("x", &values);
            let mut by_value = ObservationDigest::new("agent", 60, ["A", "B"].into_iter());
            by_value.column("x", values.iter().copied());
            assert_eq!(by_slice.finish(), by_value.finish());
        }
    }

    #[test]
    fn no_targets_no_columns() {
        let mut sha = Sha256::new();
        sha.update(DIGEST_VERSION);
        sha.update(b"api|-5|0\n");
        let expected = hex::encode(sha.finalize());
        assert_eq!(
            ObservationDigest::new("api", -5, std::iter::empty()).finish(),
            expected
        );
    }
}
