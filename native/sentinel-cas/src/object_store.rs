//! The per-run object store: one file per object, named by its id only.
//!
//! Objects live at `<root>/objects/<first two hex digits>/<other 62>`; nothing an agent
//! chooses (a file name, a path) ever becomes part of a host path. New objects are written
//! to `<root>/tmp` and renamed into place, so a reader never sees half an object, and two
//! writers of the same object both leave the same bytes. Several mounts (one per agent)
//! share one store: that is where the deduplication across agents happens.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use crate::ids::{object_id, EntryKind, Id};

/// Counters of one store, shared by every mount on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of file contents committed by every mount (each commit counted).
    pub logical_bytes: u64,
    /// Bytes of file contents the store had to write (new blobs only).
    pub stored_bytes: u64,
    /// Commits whose blob the store already held.
    pub dedup_hits: u64,
    /// Objects written (blobs, links and trees).
    pub objects_written: u64,
}

impl StoreStats {
    /// `logical_bytes / stored_bytes`, 1.0 before anything is stored.
    pub fn dedup_ratio(&self) -> f64 {
        if self.stored_bytes == 0 {
            1.0
        } else {
            self.logical_bytes as f64 / self.stored_bytes as f64
        }
    }
}

/// A content-addressed object store in a directory only root reaches.
#[derive(Debug)]
pub struct ObjectStore {
    root: PathBuf,
    known: RwLock<HashSet<Id>>,
    logical_bytes: AtomicU64,
    stored_bytes: AtomicU64,
    dedup_hits: AtomicU64,
    objects_written: AtomicU64,
    temp_counter: AtomicU64,
}

impl ObjectStore {
    /// Open (creating if needed) the store at `root`, mode 0700.
    pub fn open(root: &Path) -> io::Result<Self> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(root.join("objects"))?;
        builder.create(root.join("tmp"))?;
        Ok(Self {
            root: root.to_path_buf(),
            known: RwLock::new(HashSet::new()),
            logical_bytes: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(0),
            dedup_hits: AtomicU64::new(0),
            objects_written: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, id: &Id) -> PathBuf {
        let hex = hex::encode(id);
        self.root.join("objects").join(&hex[..2]).join(&hex[2..])
    }

    fn holds(&self, id: &Id) -> bool {
        if self
            .known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(id)
        {
            return true;
        }
        // Another process (or an earlier run on this store) may have written it.
        if self.object_path(id).is_file() {
            self.remember(*id);
            return true;
        }
        false
    }

    fn remember(&self, id: Id) {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
    }

    /// Store `payload` as an object of `kind`; returns its id. Writes nothing when the
    /// store already holds it.
    pub fn put(&self, kind: EntryKind, payload: &[u8]) -> io::Result<Id> {
        let id = object_id(kind, payload);
        let is_blob = kind == EntryKind::File;
        if is_blob {
            self.logical_bytes
                .fetch_add(payload.len() as u64, Ordering::Relaxed);
        }
        if self.holds(&id) {
            if is_blob {
                self.dedup_hits.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(id);
        }
        self.write_object(&id, payload)?;
        self.objects_written.fetch_add(1, Ordering::Relaxed);
        if is_blob {
            self.stored_bytes
                .fetch_add(payload.len() as u64, Ordering::Relaxed);
        }
        self.remember(id);
        Ok(id)
    }

    fn write_object(&self, id: &Id, payload: &[u8]) -> io::Result<()> {
        let target = self.object_path(id);
        let parent = target.parent().expect("object paths have a parent");
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(parent)?;
        let serial = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = self.root.join("tmp").join(format!(
            "{}-{}-{serial}",
            std::process::id(),
            hex::encode(id)
        ));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)?;
        // No fsync: the store lives as long as its run, and a crash ends the run anyway.
        let written = file.write_all(payload);
        drop(file);
        if let Err(err) = written.and_then(|()| fs::rename(&temp, &target)) {
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
        Ok(())
    }

    /// The whole payload of object `id`.
    pub fn get(&self, id: &Id) -> io::Result<Vec<u8>> {
        fs::read(self.object_path(id))
    }

    /// The payload length of object `id`.
    pub fn size(&self, id: &Id) -> io::Result<u64> {
        Ok(fs::metadata(self.object_path(id))?.len())
    }

    /// Up to `buf.len()` bytes of object `id` from `offset`; returns how many were read.
    pub fn read_at(&self, id: &Id, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let file = fs::File::open(self.object_path(id))?;
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    /// `(total, free, available)` blocks of `block_size` bytes on the file system holding
    /// the store: the space a workspace's contents can take (the store is not a quota).
    pub fn space(&self) -> io::Result<(u64, u64, u64, u32)> {
        let path = std::ffi::CString::new(self.root.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut info = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is NUL-terminated and `info` is a valid out-pointer for statvfs,
        // which fills it entirely when it returns 0.
        if unsafe { libc::statvfs(path.as_ptr(), info.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: statvfs returned 0, so it initialised `info`.
        let info = unsafe { info.assume_init() };
        Ok((
            info.f_blocks,
            info.f_bfree,
            info.f_bavail,
            info.f_frsize as u32,
        ))
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            logical_bytes: self.logical_bytes.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
            dedup_hits: self.dedup_hits.load(Ordering::Relaxed),
            objects_written: self.objects_written.load(Ordering::Relaxed),
        }
    }
}
