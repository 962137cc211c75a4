//! The native write path of the audit store: one SQLite transaction per group of requests.
//!
//! The native twin of `AuditStore._commit` in `sentinel/audit/store.py` (the reference):
//! under SQLite's write lock (`BEGIN IMMEDIATE`, shared with other processes) it reads the
//! chain's tail, applies each request under a SAVEPOINT (idempotency keys, expected
//! revisions, positions, revisions, Lamport values, UUIDv7 ids), writes each event's
//! canonical bytes in the fixed member order of docs/audit-format.md, chains and inserts
//! them, and commits with `synchronous=FULL`: when `commit_group` returns, the events are
//! durable.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{
    params, Connection, DropBehavior, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::canonical::{push_hex, write_i64, write_string};
use crate::chain::{link_hash, GENESIS};
use crate::error::{CoreError, CoreResult};
use crate::merkle::Hash;

/// Format version written as the `v` member.
pub const FORMAT_VERSION: i64 = 1;
/// Revision meaning "the stream must not exist yet".
pub const NO_STREAM: i64 = -1;
const BUSY_TIMEOUT_MS: u64 = 60_000;

/// An event to append; the payload is already canonical JSON.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Stream name.
    pub stream: String,
    /// Event type.
    pub type_: String,
    /// Canonical JSON of the payload object.
    pub payload: Vec<u8>,
    /// Simulation tick.
    pub tick: Option<i64>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Causation id.
    pub causation_id: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}

/// One caller's atomic batch.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The events, in order.
    pub events: Vec<NewRecord>,
    /// Expected revision per stream (`NO_STREAM` for "must not exist").
    pub expected: Vec<(String, i64)>,
}

/// One event as stored, or as found under its idempotency key.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Global position.
    pub position: i64,
    /// UUIDv7 (empty for events found by key: read them from `canonical`).
    pub event_id: String,
    /// Revision in its stream.
    pub stream_rev: i64,
    /// Lamport timestamp.
    pub lamport: i64,
    /// Wall-clock time in ns.
    pub wall_ns: i64,
    /// Canonical bytes.
    pub canonical: Vec<u8>,
    /// The event's hash.
    pub hash: Hash,
    /// The previous event's hash.
    pub prev: Hash,
    /// True when the key was already stored and this is the original event.
    pub existing: bool,
}

/// Why one request was refused (the others in the group are unaffected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The stream is not at the expected revision.
    WrongRevision {
        /// The stream.
        stream: String,
        /// What the caller expected.
        expected: i64,
        /// Where the stream is.
        actual: i64,
    },
    /// An event encodes to more bytes than allowed.
    TooLarge {
        /// Index of the event in its request.
        index: usize,
        /// Its encoded size.
        size: usize,
    },
}

/// The outcome of one request.
pub type Outcome = Result<Vec<Stored>, Refusal>;

/// A signed checkpoint stored in a group's transaction (the store signs it after the
/// previous group; storing it with the next one saves a transaction and its fsync).
#[derive(Debug, Clone, Default)]
pub struct CheckpointRows {
    /// `(size, root, note, key_id, wall_ns)`: the `checkpoints` row.
    pub checkpoint: Option<(i64, Vec<u8>, String, String, i64)>,
    /// `(level, idx, hash)`: the `subtrees` rows it completes.
    pub subtrees: Vec<(i64, i64, Vec<u8>)>,
}

struct Tail {
    size: i64,
    hash: Hash,
    lamport: i64,
}

/// UUIDv7 with a 12-bit counter in `rand_a` (RFC 9562 section 6.2, method 1).
#[derive(Default)]
struct Uuid7 {
    last_ms: u64,
    counter: u16,
}

impl Uuid7 {
    fn next(&mut self, now_ms: u64, random: u64) -> String {
        let mut ms = now_ms;
        if ms <= self.last_ms {
            if self.counter < 0xfff {
                self.counter += 1;
                ms = self.last_ms;
            } else {
                ms = self.last_ms + 1;
                self.counter = 0;
            }
        } else {
            self.counter = 0;
        }
        self.last_ms = ms;
        let value: u128 = ((ms as u128 & 0xffff_ffff_ffff) << 80)
            | (0x7 << 76)
            | ((self.counter as u128) << 64)
            | (0b10 << 62)
            | (random as u128 & ((1 << 62) - 1));
        // Written digit by digit: one allocation per id, no formatting machinery.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(36);
        for nibble in 0..32u32 {
            if matches!(nibble, 8 | 12 | 16 | 20) {
                text.push('-');
            }
            text.push(char::from(
                DIGITS[((value >> (124 - 4 * nibble)) & 0xf) as usize],
            ));
        }
        text
    }
}

/// The native writer: owns one SQLite connection to the store.
pub struct LogWriter {
    conn: Connection,
    path: String,
    node: String,
    max_event_bytes: usize,
    ids: Uuid7,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn to_hash(bytes: &[u8]) -> Hash {
    Hash::try_from(bytes).unwrap_or([0xff; 32])
}

fn push_opt_str(out: &mut Vec<u8>, value: &Option<String>) {
    match value {
        Some(text) => write_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

impl LogWriter {
    /// Opens the store for writing (the schema must exist: Python creates it).
    pub fn open(path: &str, node: &str, max_event_bytes: usize) -> CoreResult<Self> {
        let storage = |e: rusqlite::Error| CoreError::Storage {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(storage)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        // FULL: every commit fsyncs the WAL, so an acknowledged append survives power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            node: node.to_owned(),
            max_event_bytes,
            ids: Uuid7::default(),
        })
    }

    /// Commits a group of requests in one durable transaction.
    ///
    /// `clock` is the node's Lamport clock; each event gets `max(clock, tail) + 1` onwards.
    /// Returns one outcome per request. A storage error fails the whole group (rolled back).
    pub fn commit_group(
        &mut self,
        requests: &[Request],
        clock: i64,
        derived: &CheckpointRows,
    ) -> CoreResult<Vec<Outcome>> {
        let outcomes = self.write_group(requests, clock, derived)?;
        self.finish()?;
        Ok(outcomes)
    }

    /// [`Self::commit_group`] up to the COMMIT: the group's rows are written and the
    /// transaction is left open (nothing is durable, and other writers wait) until
    /// [`Self::finish`]. On an error the transaction is rolled back.
    pub fn write_group(
        &mut self,
        requests: &[Request],
        clock: i64,
        derived: &CheckpointRows,
    ) -> CoreResult<Vec<Outcome>> {
        let path = self.path.clone();
        let storage = |e: rusqlite::Error| CoreError::StorageWrite {
            path: path.clone(),
            reason: e.to_string(),
        };
        let node = self.node.clone();
        let max_bytes = self.max_event_bytes;
        let ids = &mut self.ids;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage)?;
        let mut tail = match read_tail(&tx).map_err(storage)? {
            TailRead::Verified(tail) => tail,
            TailRead::Unverified(position) => {
                return Err(CoreError::TailUnverified { path, position })
            }
        };
        let mut revisions: HashMap<String, i64> = HashMap::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let savepoint = tx.savepoint().map_err(storage)?;
            let mut state = (tail.size, tail.hash, tail.lamport);
            let mut local_revisions = revisions.clone();
            let result = apply(
                &savepoint,
                request,
                &mut state,
                &mut local_revisions,
                clock,
                &node,
                max_bytes,
                ids,
            )
            .map_err(storage)?;
            match result {
                Ok(stored) => {
                    savepoint.commit().map_err(storage)?;
                    tail = Tail {
                        size: state.0,
                        hash: state.1,
                        lamport: state.2,
                    };
                    revisions = local_revisions;
                    outcomes.push(Ok(stored));
                }
                Err(refusal) => {
                    drop(savepoint); // rolls back to the savepoint
                    outcomes.push(Err(refusal));
                }
            }
        }
        store_checkpoint(&tx, derived).map_err(storage)?;
        // Left open for finish(); any early return above dropped it, rolling back.
        tx.set_drop_behavior(DropBehavior::Ignore);
        Ok(outcomes)
    }

    /// Commits the transaction [`Self::write_group`] left open (`synchronous=FULL`: when
    /// this returns, the group is durable). On an error it is rolled back.
    pub fn finish(&mut self) -> CoreResult<()> {
        if self.conn.is_autocommit() {
            return Err(CoreError::StorageWrite {
                path: self.path.clone(),
                reason: "no group is being written".to_owned(),
            });
        }
        self.conn.execute_batch("COMMIT").map_err(|e| {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            CoreError::StorageWrite {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })
    }
}

fn store_checkpoint(tx: &Transaction<'_>, derived: &CheckpointRows) -> rusqlite::Result<()> {
    let mut subtree =
        tx.prepare_cached("INSERT OR IGNORE INTO subtrees (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    for (level, idx, hash) in &derived.subtrees {
        subtree.execute(params![level, idx, hash])?;
    }
    if let Some((size, root, note, key_id, wall_ns)) = &derived.checkpoint {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO checkpoints (size, root, note, key_id, wall_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![size, root, note, key_id, wall_ns])?;
    }
    Ok(())
}

enum TailRead {
    Verified(Tail),
    /// The last event's stored hash is not `SHA-256(prev_hash || canonical)` (or a column
    /// is not a BLOB of the right length): the position of that event.
    Unverified(i64),
}

/// The chain's tail, checked: new events are only ever chained onto a link that holds.
fn read_tail(tx: &Transaction<'_>) -> rusqlite::Result<TailRead> {
    let row = tx
        .query_row(
            "SELECT position, hash, lamport, prev_hash, canonical FROM events \
             ORDER BY position DESC LIMIT 1",
            [],
            |row| {
                let blob = |i: usize| -> rusqlite::Result<Option<Vec<u8>>> {
                    Ok(row.get_ref(i)?.as_blob().ok().map(<[u8]>::to_vec))
                };
                Ok((
                    row.get::<_, i64>(0)?,
                    blob(1)?,
                    row.get::<_, i64>(2)?,
                    blob(3)?,
                    blob(4)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        None => TailRead::Verified(Tail {
            size: 0,
            hash: GENESIS,
            lamport: 0,
        }),
        Some((position, Some(hash), lamport, Some(prev), Some(canonical))) => {
            match (
                Hash::try_from(hash.as_slice()),
                Hash::try_from(prev.as_slice()),
            ) {
                (Ok(hash), Ok(prev)) if link_hash(&prev, &canonical) == hash => {
                    TailRead::Verified(Tail {
                        size: position + 1,
                        hash,
                        lamport,
                    })
                }
                _ => TailRead::Unverified(position),
            }
        }
        Some((position, ..)) => TailRead::Unverified(position),
    })
}

fn revision(
    tx: &rusqlite::Savepoint<'_>,
    stream: &str,
    cache: &mut HashMap<String, i64>,
) -> rusqlite::Result<i64> {
    if let Some(value) = cache.get(stream) {
        return Ok(*value);
    }
    let value: Option<i64> = tx
        .prepare_cached("SELECT max(stream_rev) FROM events WHERE stream = ?1")?
        .query_row([stream], |row| row.get(0))?;
    let value = value.unwrap_or(NO_STREAM);
    cache.insert(stream.to_owned(), value);
    Ok(value)
}

#[allow(clippy::too_many_arguments)]
fn apply(
    tx: &rusqlite::Savepoint<'_>,
    request: &Request,
    state: &mut (i64, Hash, i64),
    revisions: &mut HashMap<String, i64>,
    clock: i64,
    node: &str,
    max_bytes: usize,
    ids: &mut Uuid7,
) -> rusqlite::Result<Result<Vec<Stored>, Refusal>> {
    // Idempotency: a stored key answers with the original; a key repeated inside the
    // request answers with its first occurrence.
    let mut answers: Vec<Option<Stored>> = vec![None; request.events.len()];
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (index, event) in request.events.iter().enumerate() {
        if let Some(key) = event.idempotency_key.as_deref() {
            if let Some(first) = first_with_key.get(key) {
                repeats.push((index, *first));
                continue;
            }
            first_with_key.insert(key, index);
            let existing = tx
                .prepare_cached(
                    "SELECT position, canonical, hash, prev_hash FROM events WHERE idempotency_key = ?1",
                )?
                .query_row([key], |row| {
                    Ok(Stored {
                        position: row.get(0)?,
                        event_id: String::new(),
                        stream_rev: 0,
                        lamport: 0,
                        wall_ns: 0,
                        canonical: row.get(1)?,
                        hash: to_hash(&row.get::<_, Vec<u8>>(2)?),
                        prev: to_hash(&row.get::<_, Vec<u8>>(3)?),
                        existing: true,
                    })
                })
                .optional()?;
            if let Some(stored) = existing {
                answers[index] = Some(stored);
                continue;
            }
        }
        fresh.push(index);
    }
    if !fresh.is_empty() {
        for (stream, expected) in &request.expected {
            let actual = revision(tx, stream, revisions)?;
            if *expected != actual {
                return Ok(Err(Refusal::WrongRevision {
                    stream: stream.clone(),
                    expected: *expected,
                    actual,
                }));
            }
        }
        let (mut position, mut prev, tail_lamport) = *state;
        let mut lamport = clock.max(tail_lamport);
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport, \
             correlation_id, idempotency_key, prev_hash, hash, canonical) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        // One read of the random source for the whole request (a system call per event
        // cost more than the event's hashing). An unreadable source leaves the bits zero;
        // ids stay unique through the timestamp and counter.
        let mut randomness = vec![0u8; 8 * fresh.len()];
        let _ = getrandom::fill(&mut randomness);
        for (&index, random) in fresh.iter().zip(randomness.chunks_exact(8)) {
            let event = &request.events[index];
            let stream_rev = revision(tx, &event.stream, revisions)? + 1;
            if let Some(slot) = revisions.get_mut(event.stream.as_str()) {
                *slot = stream_rev; // revision() cached the stream
            }
            lamport += 1;
            let wall_ns = now_ns();
            let random = u64::from_le_bytes(<[u8; 8]>::try_from(random).unwrap_or_default());
            let event_id = ids.next((wall_ns / 1_000_000) as u64, random);
            let canonical = write_document(
                event, &event_id, position, stream_rev, lamport, node, wall_ns, &prev,
            );
            if canonical.len() > max_bytes {
                return Ok(Err(Refusal::TooLarge {
                    index,
                    size: canonical.len(),
                }));
            }
            let hash = link_hash(&prev, &canonical);
            insert.execute(params![
                position,
                event_id,
                event.stream,
                stream_rev,
                event.type_,
                lamport,
                event.correlation_id,
                event.idempotency_key,
                &prev[..],
                &hash[..],
                canonical,
            ])?;
            answers[index] = Some(Stored {
                position,
                event_id,
                stream_rev,
                lamport,
                wall_ns,
                canonical,
                hash,
                prev,
                existing: false,
            });
            position += 1;
            prev = hash;
        }
        *state = (position, prev, lamport);
    }
    for (index, first) in repeats {
        answers[index] = answers[first].clone();
    }
    Ok(Ok(answers.into_iter().flatten().collect()))
}

/// The canonical document, members in their sorted order (docs/audit-format.md section 1).
#[allow(clippy::too_many_arguments)]
fn write_document(
    event: &NewRecord,
    event_id: &str,
    position: i64,
    stream_rev: i64,
    lamport: i64,
    node: &str,
    wall_ns: i64,
    prev: &Hash,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + event.payload.len());
    out.extend_from_slice(b"{\"causation_id\":");
    push_opt_str(&mut out, &event.causation_id);
    out.extend_from_slice(b",\"correlation_id\":");
    push_opt_str(&mut out, &event.correlation_id);
    out.extend_from_slice(b",\"event_id\":");
    write_string(&mut out, event_id);
    out.extend_from_slice(b",\"idempotency_key\":");
    push_opt_str(&mut out, &event.idempotency_key);
    out.extend_from_slice(b",\"lamport\":");
    write_i64(&mut out, lamport);
    out.extend_from_slice(b",\"node\":");
    write_string(&mut out, node);
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(&event.payload);
    out.extend_from_slice(b",\"position\":");
    write_i64(&mut out, position);
    out.extend_from_slice(b",\"prev_hash\":\"");
    push_hex(&mut out, prev);
    out.extend_from_slice(b"\",\"stream\":");
    write_string(&mut out, &event.stream);
    out.extend_from_slice(b",\"stream_rev\":");
    write_i64(&mut out, stream_rev);
    out.extend_from_slice(b",\"tick\":");
    match event.tick {
        Some(tick) => write_i64(&mut out, tick),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"type\":");
    write_string(&mut out, &event.type_);
    out.extend_from_slice(b",\"v\":");
    write_i64(&mut out, FORMAT_VERSION);
    out.extend_from_slice(b",\"wall_ns\":");
    write_i64(&mut out, wall_ns);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{to_canonical, Value};

    #[test]
    fn document_members_are_in_canonical_order() {
        let event = NewRecord {
            stream: "agent/A".into(),
            type_: "test.step".into(),
            payload: b"{\"i\":1}".to_vec(),
            tick: Some(3),
            correlation_id: None,
            causation_id: Some("c".into()),
            idempotency_key: Some("k".into()),
        };
        let written = write_document(&event, "id", 5, 2, 9, "node", 42, &[0u8; 32]);
        let expected = to_canonical(&Value::Object(vec![
            ("v".into(), Value::Int(1)),
            ("event_id".into(), Value::Str("id".into())),
            ("position".into(), Value::Int(5)),
            ("stream".into(), Value::Str("agent/A".into())),
            ("stream_rev".into(), Value::Int(2)),
            ("type".into(), Value::Str("test.step".into())),
            (
                "payload".into(),
                Value::Object(vec![("i".into(), Value::Int(1))]),
            ),
            ("lamport".into(), Value::Int(9)),
            ("node".into(), Value::Str("node".into())),
            ("wall_ns".into(), Value::Int(42)),
            ("tick".into(), Value::Int(3)),
            ("correlation_id".into(), Value::Null),
            ("causation_id".into(), Value::Str("c".into())),
            ("idempotency_key".into(), Value::Str("k".into())),
            ("prev_hash".into(), Value::Str("0".repeat(64))),
        ]))
        .unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    /// The columns the writer fills (the full schema, indexes and triggers, is Python's).
    const TEST_SCHEMA: &str = "
        CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
            stream TEXT NOT NULL, stream_rev INTEGER NOT NULL, type TEXT NOT NULL,
            lamport INTEGER NOT NULL, correlation_id TEXT, idempotency_key TEXT,
            prev_hash BLOB NOT NULL, hash BLOB NOT NULL, canonical BLOB NOT NULL);
        CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB, note TEXT,
            key_id TEXT, wall_ns INTEGER);
        CREATE TABLE subtrees (level INTEGER, idx INTEGER, hash BLOB,
            PRIMARY KEY (level, idx));";

    fn count(path: &std::path::Path, table: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    #[test]
    fn a_written_group_is_invisible_until_finish_commits_it() {
        let dir = std::env::temp_dir().join(format!("logwriter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("group.db");
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch(TEST_SCHEMA)
            .unwrap();
        let mut writer = LogWriter::open(path.to_str().unwrap(), "n", 1 << 20).unwrap();
        let record = NewRecord {
            stream: "agent/A".into(),
            type_: "test.step".into(),
            payload: b"{}".to_vec(),
            tick: None,
            correlation_id: None,
            causation_id: None,
            idempotency_key: None,
        };
        let request = Request {
            events: vec![record.clone(), record],
            expected: vec![],
        };
        let derived = CheckpointRows {
            checkpoint: Some((2, vec![0; 32], "note".into(), "00000000".into(), 1)),
            subtrees: vec![],
        };
        let outcomes = writer.write_group(&[request], 0, &derived).unwrap();
        assert!(matches!(&outcomes[..], [Ok(stored)] if stored.len() == 2));
        assert_eq!(
            (count(&path, "events"), count(&path, "checkpoints")),
            (0, 0)
        );
        writer.finish().unwrap();
        assert_eq!(
            (count(&path, "events"), count(&path, "checkpoints")),
            (2, 1)
        );
        assert!(writer.finish().is_err(), "nothing left to commit");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn uuid7_is_monotonic_and_versioned() {
        let mut ids = Uuid7::default();
        let a = ids.next(1_000, 7);
        let b = ids.next(1_000, 3);
        let c = ids.next(999, 1);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(&a[14..15], "7");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn uuid7_text_is_the_8_4_4_4_12_hex_form() {
        let mut ids = Uuid7::default();
        let id = ids.next(0x0123_4567_89ab, u64::MAX);
        let value: u128 = (0x0123_4567_89ab_u128 << 80)
            | (0x7 << 76)
            | (0b10 << 62)
            | (u128::from(u64::MAX) & ((1 << 62) - 1));
        let h = format!("{value:032x}");
        let expected = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        );
        assert_eq!(id, expected);
    }
}
