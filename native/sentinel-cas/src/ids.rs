//! Object ids and the tree encoding: what a snapshot's Merkle root means, byte for byte.
//!
//! Every object's id is SHA-256 over a kind tag, a NUL, and the payload:
//!
//! * a file's contents: `blob_id = sha256(b"blob\0" || contents)`
//! * a symbolic link: `link_id = sha256(b"link\0" || target)`
//! * a directory: `tree_id = sha256(b"tree\0" || encode_tree(entries))`, where each entry is
//!   `kind SP mode SP uid SP gid SP name NUL hex(id) LF` (kind `file`, `dir` or `link`; mode
//!   the permission bits as four octal digits; uid and gid in decimal; name the raw bytes,
//!   which never hold NUL or `/`), entries sorted by name bytes.
//!
//! Owners are part of the tree because the workspace's deny set (root-owned, read-only
//! `.git/hooks` and the like) must come back root's when a snapshot is restored.
//!
//! The tag keeps a file whose bytes happen to encode a tree from ever sharing its id. The
//! snapshot's Merkle root is the root directory's `tree_id`. `sentinel/cas/reference.py`
//! computes the same ids from a directory on disk.

use sha2::{Digest, Sha256};

/// A SHA-256 object id.
pub type Id = [u8; 32];

/// The kind of a tree entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (its id is a blob id).
    File,
    /// A directory (its id is a tree id).
    Dir,
    /// A symbolic link (its id is a link id).
    Link,
}

impl EntryKind {
    /// The kind's word in the tree encoding.
    pub fn word(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Link => "link",
        }
    }

    fn from_word(word: &[u8]) -> Option<Self> {
        match word {
            b"file" => Some(EntryKind::File),
            b"dir" => Some(EntryKind::Dir),
            b"link" => Some(EntryKind::Link),
            _ => None,
        }
    }

    /// The tag hashed before an object's payload.
    pub fn tag(self) -> &'static [u8] {
        match self {
            EntryKind::File => b"blob\0",
            EntryKind::Dir => b"tree\0",
            EntryKind::Link => b"link\0",
        }
    }
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits (`0o7777` at most).
    pub mode: u16,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// The entry's name: no NUL, no `/`, not `.` or `..`.
    pub name: Vec<u8>,
    /// The entry's object id.
    pub id: Id,
}

/// The id of an object of `kind` with `payload`.
pub fn object_id(kind: EntryKind, payload: &[u8]) -> Id {
    let mut hasher = Sha256::new();
    hasher.update(kind.tag());
    hasher.update(payload);
    hasher.finalize().into()
}

/// The encoded listing of `entries` (sorted by name here; the input order does not matter).
pub fn encode_tree(entries: &[TreeEntry]) -> Vec<u8> {
    let mut sorted: Vec<&TreeEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(entries.len() * 90);
    for entry in sorted {
        out.extend_from_slice(entry.kind.word().as_bytes());
        out.extend_from_slice(
            format!(" {:04o} {} {} ", entry.mode & 0o7777, entry.uid, entry.gid).as_bytes(),
        );
        out.extend_from_slice(&entry.name);
        out.push(0);
        out.extend_from_slice(hex::encode(entry.id).as_bytes());
        out.push(b'\n');
    }
    out
}

/// Why a stored tree could not be read back.
#[derive(Debug, PartialEq, Eq)]
pub struct TreeFormatError {
    /// Byte offset of the entry that failed.
    pub offset: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

impl std::fmt::Display for TreeFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "malformed tree entry at byte {}: {}",
            self.offset, self.reason
        )
    }
}

/// The entries of an encoded listing, refusing anything `encode_tree` would not produce.
pub fn decode_tree(bytes: &[u8]) -> Result<Vec<TreeEntry>, TreeFormatError> {
    let mut entries: Vec<TreeEntry> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let fail = |reason| TreeFormatError { offset: at, reason };
        let rest = &bytes[at..];
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or(fail("no kind"))?;
        let kind = EntryKind::from_word(&rest[..space]).ok_or(fail("unknown kind"))?;
        let mode_bytes = rest.get(space + 1..space + 5).ok_or(fail("short mode"))?;
        if !mode_bytes.iter().all(|b| (b'0'..=b'7').contains(b)) {
            return Err(fail("mode not octal"));
        }
        let mode_text = std::str::from_utf8(mode_bytes).map_err(|_| fail("mode not octal"))?;
        let mode = u16::from_str_radix(mode_text, 8).map_err(|_| fail("mode not octal"))?;
        if rest.get(space + 5) != Some(&b' ') {
            return Err(fail("no space after mode"));
        }
        let (uid, after_uid) = decimal(rest, space + 6).ok_or(fail("bad uid"))?;
        let (gid, name_start) = decimal(rest, after_uid).ok_or(fail("bad gid"))?;
        let nul = rest[name_start..]
            .iter()
            .position(|&b| b == 0)
            .ok_or(fail("unterminated name"))?;
        let name = rest[name_start..name_start + nul].to_vec();
        if !valid_name(&name) {
            return Err(fail("invalid name"));
        }
        let hex_start = name_start + nul + 1;
        let hex_text = rest
            .get(hex_start..hex_start + 64)
            .ok_or(fail("short id"))?;
        let mut id = [0u8; 32];
        hex::decode_to_slice(hex_text, &mut id).map_err(|_| fail("id not hex"))?;
        if rest.get(hex_start + 64) != Some(&b'\n') {
            return Err(fail("no newline"));
        }
        if entries.last().is_some_and(|last| last.name >= name) {
            return Err(fail("names not sorted and unique"));
        }
        entries.push(TreeEntry {
            kind,
            mode,
            uid,
            gid,
            name,
            id,
        });
        at += hex_start + 65;
    }
    Ok(entries)
}

/// A decimal u32 at `start` ended by a space; returns it and the index after the space.
fn decimal(bytes: &[u8], start: usize) -> Option<(u32, usize)> {
    let rest = bytes.get(start..)?;
    let len = rest.iter().position(|&b| b == b' ')?;
    let digits = &rest[..len];
    if digits.is_empty() || digits.len() > 10 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((text.parse().ok()?, start + len + 1))
}

/// Whether `name` may be a directory entry: 1..=255 bytes, no NUL or `/`, not `.` or `..`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= crate::MAX_NAME_BYTES
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == 0 || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = TreeEntry> {
        (
            prop_oneof![
                Just(EntryKind::File),
                Just(EntryKind::Dir),
                Just(EntryKind::Link)
            ],
            0u16..0o10000,
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(1u8..=255, 1..40),
            any::<[u8; 32]>(),
        )
            .prop_filter_map("valid name", |(kind, mode, uid, gid, name, id)| {
                let name: Vec<u8> = name.into_iter().filter(|&b| b != b'/').collect();
                valid_name(&name).then_some(TreeEntry {
                    kind,
                    mode,
                    uid,
                    gid,
                    name,
                    id,
                })
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(mut entries in proptest::collection::vec(entry(), 0..20)) {
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            entries.dedup_by(|a, b| a.name == b.name);
            let encoded = encode_tree(&entries);
            prop_assert_eq!(decode_tree(&encoded).unwrap(), entries);
        }
    }

    #[test]
    fn tags_separate_kinds() {
        assert_ne!(
            object_id(EntryKind::File, b""),
            object_id(EntryKind::Dir, b"")
        );
        assert_eq!(
            hex::encode(object_id(EntryKind::File, b"")),
            // sha256(b"blob\0")
            "99ffb0ba6646475015977d05324ca3be42598002a289319701af74d273f9f2e3"
        );
    }
}
