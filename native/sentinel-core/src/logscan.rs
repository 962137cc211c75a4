//! A single read-only pass over an audit store that checks every link of the chain.
//!
//! This is the native twin of the chain walk in `sentinel/audit/verify.py` (the reference):
//! the same findings, in the same order, with the same wording. It reads the SQLite file
//! directly, recomputes each event's hash from its stored predecessor and canonical bytes,
//! checks continuity and dense positions, classifies breaks by the position each event
//! records, checks the index columns against the canonical bytes, and builds the Merkle
//! tree over the stored hashes for the checkpoint checks that follow.

use std::borrow::Cow;

use rusqlite::{Connection, OpenFlags};
use serde::Deserialize;

use crate::chain::{link_hash, GENESIS};
use crate::error::{CoreError, CoreResult};
use crate::merkle::{leaf_hash, Hash, MerkleTree};

/// How many column mismatches are listed before the scan stops collecting them.
pub const MAX_COLUMN_MISMATCHES: usize = 100;

/// One finding of the chain walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The position the finding is about.
    pub position: i64,
    /// `modified`, `missing`, `inserted` or `reordered`.
    pub kind: &'static str,
    /// What exactly was seen.
    pub detail: String,
}

/// Everything one pass found.
#[derive(Debug, Default)]
pub struct ChainScan {
    /// Chain findings in walk order.
    pub findings: Vec<Finding>,
    /// Positions whose index columns disagree with their canonical bytes (at most 100).
    pub column_mismatches: Vec<i64>,
    /// The Merkle tree over the stored hashes, in position order.
    pub tree: MerkleTree,
}

#[derive(Deserialize)]
struct IndexedMembers<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    stream_rev: i64,
    #[serde(borrow, rename = "type")]
    type_: Cow<'a, str>,
    lamport: i64,
    #[serde(borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    idempotency_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
}

/// One stored event as read from SQLite, owned so that worker threads can check it.
struct Row {
    position: i64,
    prev: Hash,
    hash: Hash,
    canonical: Vec<u8>,
    event_id: String,
    stream: String,
    stream_rev: i64,
    type_: String,
    lamport: i64,
    correlation_id: Option<String>,
    idempotency_key: Option<String>,
}

/// What the worker threads compute per row; the walk itself stays sequential.
struct Checked {
    link_holds: bool,
    columns_match: bool,
    leaf: Hash,
}

/// Rows are read and checked in chunks: while two workers hash and parse one chunk, the
/// calling thread reads the next one from SQLite.
const CHUNK: usize = 16_384;

fn recorded_position(canonical: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct PositionOnly {
        position: i64,
    }
    serde_json::from_slice::<PositionOnly>(canonical)
        .ok()
        .map(|doc| doc.position)
}

fn to_hash(bytes: &[u8]) -> Hash {
    // A stored value of the wrong length cannot match any hash: use a value no hash equals
    // in practice, and let the hash comparison report the row as modified.
    Hash::try_from(bytes).unwrap_or([0xff; 32])
}

fn columns_match(row: &Row) -> bool {
    match serde_json::from_slice::<IndexedMembers<'_>>(&row.canonical) {
        // Bytes that are no longer JSON are reported as modified by the hash check; JSON
        // that lacks a member (or has one of another type) disagrees with the column.
        Err(_) => serde_json::from_slice::<serde::de::IgnoredAny>(&row.canonical).is_err(),
        Ok(doc) => {
            doc.event_id == row.event_id
                && doc.stream == row.stream
                && doc.stream_rev == row.stream_rev
                && doc.type_ == row.type_
                && doc.lamport == row.lamport
                && doc.correlation_id.as_deref() == row.correlation_id.as_deref()
                && doc.idempotency_key.as_deref() == row.idempotency_key.as_deref()
                && hex_equals(&doc.prev_hash, &row.prev)
        }
    }
}

fn check(row: &Row) -> Checked {
    Checked {
        link_holds: link_hash(&row.prev, &row.canonical) == row.hash,
        columns_match: columns_match(row),
        leaf: leaf_hash(&row.hash),
    }
}

fn check_in_parallel(rows: &[Row]) -> Vec<Checked> {
    rows.iter().map(check).collect()
}

/// Whether `text` is the lower-case hex of `bytes`, without allocating.
fn hex_equals(text: &str, bytes: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text = text.as_bytes();
    text.len() == bytes.len() * 2
        && bytes.iter().enumerate().all(|(i, b)| {
            text[2 * i] == DIGITS[(b >> 4) as usize]
                && text[2 * i + 1] == DIGITS[(b & 0xf) as usize]
        })
}

fn classify_break(position: i64, canonical: &[u8], following: Option<&Row>) -> Finding {
    let recorded = recorded_position(canonical);
    let next = following.and_then(|row| recorded_position(&row.canonical));
    match recorded {
        Some(r) if r == position + 1 && next == Some(position) => Finding {
            position,
            kind: "reordered",
            detail: format!(
                "events recorded at {position} and {} are swapped",
                position + 1
            ),
        },
        Some(r) if r > position => Finding {
            position,
            kind: "missing",
            detail: format!(
                "{} event(s) removed before this one (recorded at position {r})",
                r - position
            ),
        },
        Some(r) if r < position => Finding {
            position: r,
            kind: "inserted",
            detail: format!(
                "{} event(s) inserted at position {r}; the event recorded there now sits at {position}",
                position - r
            ),
        },
        _ => Finding {
            position: position - 1,
            kind: "modified",
            detail: format!(
                "the event before position {position} was replaced and re-hashed: the chain breaks at {position}"
            ),
        },
    }
}

fn read_chunk(rows: &mut rusqlite::Rows<'_>) -> rusqlite::Result<Vec<Row>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        let Some(row) = rows.next()? else { break };
        let blob = |i: usize| -> rusqlite::Result<&[u8]> {
            row.get_ref(i)?.as_blob().map_err(rusqlite::Error::from)
        };
        chunk.push(Row {
            position: row.get(0)?,
            prev: to_hash(blob(1)?),
            hash: to_hash(blob(2)?),
            canonical: blob(3)?.to_vec(),
            event_id: row.get(4)?,
            stream: row.get(5)?,
            stream_rev: row.get(6)?,
            type_: row.get(7)?,
            lamport: row.get(8)?,
            correlation_id: row.get(9)?,
            idempotency_key: row.get(10)?,
        });
    }
    Ok(chunk)
}

/// The address of `sqlite3_libversion` in the SQLite library this crate is linked to.
///
/// Two copies of SQLite in one process (say, one linked here and another used by Python's
/// `sqlite3` module) break each other's POSIX advisory locks and can corrupt a database.
/// Comparing this address with the one Python's copy exports tells whether they are one.
pub fn sqlite_library_address() -> usize {
    rusqlite::ffi::sqlite3_libversion as *const () as usize
}

/// Walks the whole chain of the store at `path`, read-only.
pub fn scan_store(path: &str) -> CoreResult<ChainScan> {
    let storage = |e: rusqlite::Error| CoreError::Storage {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(storage)?;
    let mut statement = conn
        .prepare(
            "SELECT position, prev_hash, hash, canonical, event_id, stream, stream_rev, type, \
             lamport, correlation_id, idempotency_key FROM events ORDER BY position",
        )
        .map_err(storage)?;
    let mut rows = statement.query([]).map_err(storage)?;
    let mut scan = ChainScan::default();
    let mut walk = Walk::default();
    let mut chunk = read_chunk(&mut rows).map_err(storage)?;
    while !chunk.is_empty() {
        let (checked, next) = std::thread::scope(|scope| {
            let (left, right) = chunk.split_at(chunk.len() / 2);
            let left = scope.spawn(|| check_in_parallel(left));
            let right = scope.spawn(|| check_in_parallel(right));
            let next = read_chunk(&mut rows);
            let mut checked = left.join().expect("checking never panics");
            checked.extend(right.join().expect("checking never panics"));
            (checked, next)
        });
        let next = next.map_err(storage)?;
        for (index, (row, result)) in chunk.iter().zip(&checked).enumerate() {
            let following = chunk.get(index + 1).or_else(|| next.first());
            walk.row(&mut scan, row, result, following);
        }
        chunk = next;
    }
    Ok(scan)
}

/// The sequential part of the walk: continuity, positions, swaps.
#[derive(Default)]
struct Walk {
    expected: i64,
    last_hash: Option<Hash>,
    swapped: Option<Hash>,
}

impl Walk {
    fn row(&mut self, scan: &mut ChainScan, row: &Row, checked: &Checked, following: Option<&Row>) {
        if !checked.link_holds {
            scan.findings.push(Finding {
                position: row.position,
                kind: "modified",
                detail: "content does not match its stored hash (bytes changed)".to_owned(),
            });
        }
        if !checked.columns_match && scan.column_mismatches.len() < MAX_COLUMN_MISMATCHES {
            scan.column_mismatches.push(row.position);
        }
        scan.tree.push(checked.leaf);
        let last_hash = self.last_hash.unwrap_or(GENESIS);
        let mut next_hash = row.hash;
        if row.position != self.expected {
            let missing = row.position - self.expected;
            scan.findings.push(Finding {
                position: self.expected,
                kind: "missing",
                detail: format!(
                    "{missing} event(s) missing: positions {}..{}",
                    self.expected,
                    row.position - 1
                ),
            });
        } else if let Some(hash) = self.swapped.take() {
            next_hash = hash; // second half of a reported swap
        } else if row.prev != last_hash {
            let finding = classify_break(row.position, &row.canonical, following);
            if finding.kind == "reordered" {
                self.swapped = Some(row.hash);
            }
            scan.findings.push(finding);
        }
        self.expected = row.position + 1;
        self.last_hash = Some(next_hash);
    }
}
