//! A single read-only pass over an audit store that checks every link of the chain.
//!
//! This is the native twin of the chain walk in `sentinel/audit/verify.py` (the reference):
//! the same findings, in the same order, with the same wording. It reads the SQLite file
//! directly, recomputes each event's hash from its stored predecessor and canonical bytes,
//! checks continuity and dense positions, classifies breaks by the position each event
//! records, checks the index columns against the canonical bytes, and builds the Merkle
//! tree over the stored hashes for the checkpoint checks that follow.

use std::borrow::Cow;
use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::Deserialize;

use crate::canonical::push_hex;
use crate::chain::{link_hash, GENESIS};
use crate::document::{check_document, DocumentCheck, Facts};
use crate::error::{CoreError, CoreResult};
use crate::merkle::{leaf_hash, Hash, MerkleTree};

/// How many column mismatches are listed before the scan stops collecting them.
pub const MAX_COLUMN_MISMATCHES: usize = 100;

/// One finding of the chain walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The position the finding is about.
    pub position: i64,
    /// `modified`, `missing`, `inserted`, `reordered`, `storage_class`, `not_canonical`,
    /// `invalid_event`, `position_mismatch`, `duplicate_event_id`, `revision_gap` or
    /// `lamport_order`.
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
    /// Index columns as stored; `None` when the column holds another storage class.
    event_id: Option<String>,
    stream: Option<String>,
    stream_rev: Option<i64>,
    type_: Option<String>,
    lamport: Option<i64>,
    correlation_id: Option<Option<String>>,
    idempotency_key: Option<Option<String>>,
    /// Columns whose storage class or length is not what the format stores.
    misstored: Vec<&'static str>,
}

/// What the worker threads compute per row; the walk itself stays sequential.
struct Checked {
    link_holds: bool,
    columns_match: bool,
    leaf: Hash,
    document: DocumentCheck,
}

/// Rows are read and checked in chunks: while two workers hash and parse one chunk, the
/// calling thread reads the next one from SQLite.
const CHUNK: usize = 16_384;

/// How much of the database file the scan maps into memory (SQLite caps it at its
/// compile-time maximum).
const SCAN_MMAP_BYTES: i64 = 1 << 40;

fn recorded_position(canonical: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct PositionOnly {
        position: i64,
    }
    serde_json::from_slice::<PositionOnly>(canonical)
        .ok()
        .map(|doc| doc.position)
}

fn recorded_prev_hash(canonical: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct PrevOnly {
        prev_hash: String,
    }
    serde_json::from_slice::<PrevOnly>(canonical)
        .ok()
        .map(|doc| doc.prev_hash)
}

fn to_hash(bytes: &[u8]) -> Hash {
    // A stored value of the wrong length cannot match any hash: use a value no hash equals
    // in practice, and let the hash comparison report the row as modified.
    Hash::try_from(bytes).unwrap_or([0xff; 32])
}

/// Whether the index columns hold the document's members. Only documents that pass the
/// member rules are compared: a malformed one is reported as such (or, when its bytes
/// changed, as modified).
fn columns_match(row: &Row, document: &DocumentCheck) -> bool {
    if !document.well_formed {
        return true;
    }
    if let Some(scanned) = &document.scanned {
        let text = |range: &std::ops::Range<usize>| &row.canonical[range.clone()];
        let optional = |column: &Option<Option<String>>, range: &Option<std::ops::Range<usize>>| {
            column
                .as_ref()
                .map(|value| value.as_deref().map(str::as_bytes))
                == Some(range.as_ref().map(text))
        };
        let facts = document
            .facts
            .as_ref()
            .expect("scanned documents have facts");
        return row.event_id.as_deref() == Some(&facts.event_id)
            && row.stream.as_deref() == Some(&facts.stream)
            && row.stream_rev == Some(scanned.stream_rev)
            && row.type_.as_deref().map(str::as_bytes) == Some(text(&scanned.type_))
            && row.lamport == Some(scanned.lamport)
            && optional(&row.correlation_id, &scanned.correlation_id)
            && optional(&row.idempotency_key, &scanned.idempotency_key)
            && std::str::from_utf8(text(&scanned.prev_hash))
                .is_ok_and(|hex| hex_equals(hex, &row.prev));
    }
    match serde_json::from_slice::<IndexedMembers<'_>>(&row.canonical) {
        Err(_) => true,
        Ok(doc) => {
            row.event_id.as_deref() == Some(&*doc.event_id)
                && row.stream.as_deref() == Some(&*doc.stream)
                && row.stream_rev == Some(doc.stream_rev)
                && row.type_.as_deref() == Some(&*doc.type_)
                && row.lamport == Some(doc.lamport)
                && row.correlation_id.as_ref().map(Option::as_deref)
                    == Some(doc.correlation_id.as_deref())
                && row.idempotency_key.as_ref().map(Option::as_deref)
                    == Some(doc.idempotency_key.as_deref())
                && hex_equals(&doc.prev_hash, &row.prev)
        }
    }
}

fn check(row: &Row) -> Checked {
    let document = check_document(&row.canonical);
    Checked {
        link_holds: link_hash(&row.prev, &row.canonical) == row.hash,
        columns_match: columns_match(row, &document),
        leaf: leaf_hash(&row.hash),
        document,
    }
}

fn integer_column(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(i) => Some(i),
        _ => None,
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

fn classify_break(
    position: i64,
    canonical: &[u8],
    following: Option<&Row>,
    last_hash: &Hash,
) -> Finding {
    let mut expected_hex = Vec::with_capacity(64);
    push_hex(&mut expected_hex, last_hash);
    if recorded_prev_hash(canonical).is_some_and(|text| text.as_bytes() == expected_hex) {
        return Finding {
            position,
            kind: "modified",
            detail: "the prev_hash column differs from the prev_hash the event records \
                     (the column was changed)"
                .to_owned(),
        };
    }
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

/// The bytes of a column that should hold a BLOB, and whether it does.
fn stored_bytes(value: ValueRef<'_>) -> (&[u8], bool) {
    match value {
        ValueRef::Blob(bytes) => (bytes, true),
        ValueRef::Text(bytes) => (bytes, false),
        _ => (&[], false),
    }
}

/// Stores a TEXT column in `slot`, reusing its buffer; `None` for another storage class.
fn set_text(slot: &mut Option<String>, value: ValueRef<'_>) {
    let ValueRef::Text(bytes) = value else {
        *slot = None;
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        *slot = None;
        return;
    };
    match slot {
        Some(buffer) => {
            buffer.clear();
            buffer.push_str(text);
        }
        None => *slot = Some(text.to_owned()),
    }
}

/// Stores a nullable TEXT column in `slot`, reusing its buffer.
fn set_nullable_text(slot: &mut Option<Option<String>>, value: ValueRef<'_>) {
    if let ValueRef::Null = value {
        *slot = Some(None);
        return;
    }
    let mut inner = slot.take().flatten();
    set_text(&mut inner, value);
    *slot = inner.map(Some);
}

/// Reads up to `CHUNK` rows into `recycled`, whose rows (from a chunk already walked) are
/// overwritten in place so that their buffers are reused instead of allocated per row.
fn read_chunk(rows: &mut rusqlite::Rows<'_>, mut recycled: Vec<Row>) -> rusqlite::Result<Vec<Row>> {
    recycled.reserve(CHUNK.saturating_sub(recycled.len()));
    let mut filled = 0;
    while filled < CHUNK {
        let Some(row) = rows.next()? else { break };
        if filled == recycled.len() {
            recycled.push(Row {
                position: 0,
                prev: [0; 32],
                hash: [0; 32],
                canonical: Vec::new(),
                event_id: None,
                stream: None,
                stream_rev: None,
                type_: None,
                lamport: None,
                correlation_id: None,
                idempotency_key: None,
                misstored: Vec::new(),
            });
        }
        let slot = &mut recycled[filled];
        filled += 1;
        let (prev, prev_ok) = stored_bytes(row.get_ref(1)?);
        let (hash, hash_ok) = stored_bytes(row.get_ref(2)?);
        let (canonical, canonical_ok) = stored_bytes(row.get_ref(3)?);
        slot.misstored.clear();
        if !(prev_ok && prev.len() == 32) {
            slot.misstored.push("prev_hash");
        }
        if !(hash_ok && hash.len() == 32) {
            slot.misstored.push("hash");
        }
        if !canonical_ok {
            slot.misstored.push("canonical");
        }
        slot.position = row.get(0)?;
        slot.prev = to_hash(prev);
        slot.hash = to_hash(hash);
        slot.canonical.clear();
        slot.canonical.extend_from_slice(canonical);
        set_text(&mut slot.event_id, row.get_ref(4)?);
        set_text(&mut slot.stream, row.get_ref(5)?);
        slot.stream_rev = integer_column(row.get_ref(6)?);
        set_text(&mut slot.type_, row.get_ref(7)?);
        slot.lamport = integer_column(row.get_ref(8)?);
        set_nullable_text(&mut slot.correlation_id, row.get_ref(9)?);
        set_nullable_text(&mut slot.idempotency_key, row.get_ref(10)?);
    }
    recycled.truncate(filled);
    Ok(recycled)
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
    // Pages of the database file are read through a memory map (no copy per page; pages
    // still in the WAL are read as before). Best effort: a build without mmap ignores it.
    let _ = conn.pragma_update(None, "mmap_size", SCAN_MMAP_BYTES);
    let mut statement = conn
        .prepare(
            "SELECT position, prev_hash, hash, canonical, event_id, stream, stream_rev, type, \
             lamport, correlation_id, idempotency_key FROM events ORDER BY position",
        )
        .map_err(storage)?;
    let mut rows = statement.query([]).map_err(storage)?;
    let mut scan = ChainScan::default();
    let mut walk = Walk::default();
    let mut chunk = read_chunk(&mut rows, Vec::new()).map_err(storage)?;
    // Three stages overlap: two workers check this chunk while the calling thread walks the
    // previous one (whose last row is followed by this chunk's first) and then reads the
    // next one into the walked chunk's rows.
    let mut previous: Option<(Vec<Row>, Vec<Checked>)> = None;
    while !chunk.is_empty() {
        let (checked, next) = std::thread::scope(|scope| {
            let (left, right) = chunk.split_at(chunk.len() / 2);
            let left = scope.spawn(|| check_in_parallel(left));
            let right = scope.spawn(|| check_in_parallel(right));
            let recycled = match previous.take() {
                Some((rows, checked)) => {
                    walk.chunk(&mut scan, &rows, &checked, chunk.first());
                    rows
                }
                None => Vec::new(),
            };
            let next = read_chunk(&mut rows, recycled);
            let mut checked = left.join().expect("checking never panics");
            checked.extend(right.join().expect("checking never panics"));
            (checked, next)
        });
        previous = Some((chunk, checked));
        chunk = next.map_err(storage)?;
    }
    if let Some((rows, checked)) = &previous {
        walk.chunk(&mut scan, rows, checked, None);
    }
    Ok(scan)
}

/// The position each event id was first seen at. Ids in the UUID form (all of them in a
/// well-formed log) are kept as 128-bit numbers, which compare without allocating; any other
/// text is kept as it is. The UUID form maps text to number one-to-one, so the two kinds
/// never hold the same id.
///
/// UUIDv7 ids grow with time, so in a log written by one node nearly every id is above all
/// ids before it: those go to the end of `ascending` (sorted by construction, no hashing and
/// no cache miss per event, which a hash map of a million ids costs); the few others go to
/// a hash map. An id above every earlier one cannot have been seen, and one that is not is
/// looked up in both.
#[derive(Default)]
struct EventIds {
    ascending: Vec<(u128, i64)>,
    uuids: HashMap<u128, i64>,
    others: HashMap<String, i64>,
}

/// The 128 bits of a lower-case UUID written `8-4-4-4-12`, or `None` for any other text.
fn uuid_bits(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    let mut bits: u128 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'-' if matches!(i, 8 | 13 | 18 | 23) => continue,
            _ => return None,
        };
        bits = bits << 4 | u128::from(digit);
    }
    Some(bits)
}

impl EventIds {
    /// The position `id` was first seen at, or `None` after recording it at `position`.
    fn first_or_insert(&mut self, id: &str, position: i64) -> Option<i64> {
        let Some(bits) = uuid_bits(id) else {
            return match self.others.get(id) {
                Some(first) => Some(*first),
                None => {
                    self.others.insert(id.to_owned(), position);
                    None
                }
            };
        };
        if self.ascending.last().is_none_or(|(top, _)| bits > *top) {
            self.ascending.push((bits, position));
            return None;
        }
        if let Ok(found) = self.ascending.binary_search_by(|(seen, _)| seen.cmp(&bits)) {
            return Some(self.ascending[found].1);
        }
        match self.uuids.entry(bits) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(position);
                None
            }
        }
    }
}

/// The sequential part of the walk: continuity, positions, swaps, and the rules that span
/// events (unique ids, revision order per stream, Lamport order).
#[derive(Default)]
struct Walk {
    expected: i64,
    last_hash: Option<Hash>,
    swapped: Option<Hash>,
    /// Recorded minus stored position, as established by the last missing/inserted finding.
    shift: i64,
    ids: EventIds,
    revisions: HashMap<String, i64>,
    lamport: Option<i64>,
    /// False after a row without facts: streams first seen then may start anywhere.
    streams_from_start: bool,
    started: bool,
}

impl Walk {
    /// Walks `rows` in order; `next` is the row after the last one, if any.
    fn chunk(
        &mut self,
        scan: &mut ChainScan,
        rows: &[Row],
        checked: &[Checked],
        next: Option<&Row>,
    ) {
        for (index, (row, result)) in rows.iter().zip(checked).enumerate() {
            let following = rows.get(index + 1).or(next);
            self.row(scan, row, result, following);
        }
    }

    fn row(&mut self, scan: &mut ChainScan, row: &Row, checked: &Checked, following: Option<&Row>) {
        if !self.started {
            self.started = true;
            self.streams_from_start = true;
        }
        for column in &row.misstored {
            scan.findings.push(Finding {
                position: row.position,
                kind: "storage_class",
                detail: format!(
                    "column {column} does not hold a {}BLOB",
                    if *column == "canonical" {
                        ""
                    } else {
                        "32-byte "
                    }
                ),
            });
        }
        if checked.link_holds {
            for (kind, detail) in &checked.document.findings {
                scan.findings.push(Finding {
                    position: row.position,
                    kind,
                    detail: detail.clone(),
                });
            }
        }
        let chain_before = scan.findings.len();
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
        let mut suppressed = false;
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
            suppressed = true;
        } else if row.prev != last_hash {
            let finding = classify_break(row.position, &row.canonical, following, &last_hash);
            if finding.kind == "reordered" {
                self.swapped = Some(row.hash);
            }
            if finding.kind == "missing" || finding.kind == "inserted" {
                if let Some(recorded) = recorded_position(&row.canonical) {
                    self.shift = recorded - row.position;
                }
            }
            scan.findings.push(finding);
        }
        self.expected = row.position + 1;
        self.last_hash = Some(next_hash);
        let suppressed = suppressed || scan.findings.len() > chain_before;
        match &checked.document.facts {
            Some(facts) => self.cross_event(scan, row.position, facts, suppressed),
            None => {
                self.revisions.clear();
                self.lamport = None;
                self.streams_from_start = false;
            }
        }
    }

    fn cross_event(&mut self, scan: &mut ChainScan, position: i64, facts: &Facts, quiet: bool) {
        let mut push = |kind: &'static str, detail: String| {
            if !quiet {
                scan.findings.push(Finding {
                    position,
                    kind,
                    detail,
                });
            }
        };
        if facts.position - position != self.shift {
            push(
                "position_mismatch",
                format!(
                    "the event records position {}, it is stored at {position}",
                    facts.position
                ),
            );
        }
        if let Some(first) = self.ids.first_or_insert(&facts.event_id, position) {
            push(
                "duplicate_event_id",
                format!(
                    "event_id {} is also the id of the event at position {first}",
                    facts.event_id
                ),
            );
        }
        let due = match self.revisions.get(&facts.stream) {
            Some(last) => Some(last + 1),
            None if self.streams_from_start => Some(0),
            None => None,
        };
        if let Some(due) = due {
            if facts.stream_rev != due {
                push(
                    "revision_gap",
                    format!(
                        "stream {}: revision {} where {due} was due",
                        facts.stream, facts.stream_rev
                    ),
                );
            }
        }
        match self.revisions.get_mut(&facts.stream) {
            Some(last) => *last = (*last).max(facts.stream_rev),
            None => {
                self.revisions
                    .insert(facts.stream.clone(), facts.stream_rev);
            }
        }
        if let Some(last) = self.lamport {
            if facts.lamport <= last {
                push(
                    "lamport_order",
                    format!(
                        "lamport {} is not above {last}, the largest before it",
                        facts.lamport
                    ),
                );
            }
        }
        self.lamport = Some(self.lamport.map_or(facts.lamport, |l| l.max(facts.lamport)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uuid_text(bits: u128) -> String {
        let h = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    proptest! {
        /// Whatever the order of the ids (ascending, repeated, out of order, not UUIDs),
        /// the first position of each is what a plain map says.
        #[test]
        fn event_ids_agree_with_a_plain_map(ids in proptest::collection::vec((0u8..40, any::<bool>()), 0..200)) {
            let mut tested = EventIds::default();
            let mut oracle: HashMap<String, i64> = HashMap::new();
            for (position, (value, as_uuid)) in ids.into_iter().enumerate() {
                let id = if as_uuid { uuid_text(u128::from(value) << 64) } else { format!("id-{value}") };
                let position = position as i64;
                let expected = oracle.get(&id).copied();
                oracle.entry(id.clone()).or_insert(position);
                prop_assert_eq!(tested.first_or_insert(&id, position), expected);
            }
        }
    }
}
