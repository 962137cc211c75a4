//! The FUSE face of the inode table: each request locks the table, does one thing, replies.
//!
//! Permission checks are the kernel's (`default_permissions`): it compares the caller's
//! uid, gid and groups with the attributes replied here, as it does for ext4. This file
//! system never touches a host path named by the agent: contents go to the object store,
//! which names objects by hash only.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

use crate::ids::EntryKind;
use crate::linger::{AfterReply, Linger};
use crate::table::{AttrChange, Creator, Node, Table};

/// How long the kernel may cache entries and attributes. A restore invalidates the root's
/// entries explicitly, so this only bounds staleness the kernel cannot see otherwise.
const TTL: Duration = Duration::from_secs(1);

/// Reported block size (the page size; `stat` users round to it).
const BLOCK_SIZE: u32 = 4096;

/// The file system a mount serves; the table is shared with the mount's owner (snapshots).
pub struct CasFs {
    pub(crate) table: Arc<Mutex<Table>>,
    /// The spin after each reply (see [`crate::linger`]).
    pub(crate) linger: Arc<Linger>,
}

fn errno(code: i32) -> Errno {
    Errno::from_i32(code)
}

fn file_type(kind: EntryKind) -> FileType {
    match kind {
        EntryKind::File => FileType::RegularFile,
        EntryKind::Dir => FileType::Directory,
        EntryKind::Link => FileType::Symlink,
    }
}

fn attr(ino: u64, node: &Node) -> FileAttr {
    let size = node.size();
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: node.atime,
        mtime: node.mtime,
        ctime: node.ctime,
        crtime: node.ctime,
        kind: file_type(node.kind()),
        perm: node.mode,
        nlink: if matches!(node.kind(), EntryKind::Dir) {
            2
        } else {
            u32::from(node.linked)
        },
        uid: node.uid,
        gid: node.gid,
        rdev: 0,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

fn time(value: TimeOrNow) -> SystemTime {
    match value {
        TimeOrNow::SpecificTime(at) => at,
        TimeOrNow::Now => SystemTime::now(),
    }
}

fn who(req: &Request) -> Creator {
    Creator {
        uid: req.uid(),
        gid: req.gid(),
    }
}

impl CasFs {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reply_entry(table: &Table, made: Result<u64, i32>, reply: ReplyEntry) {
        match made.and_then(|ino| Ok((ino, table.node(ino)?))) {
            Ok((ino, node)) => reply.entry(&TTL, &attr(ino, node), Generation(0)),
            Err(code) => reply.error(errno(code)),
        }
    }
}

fn done(result: Result<(), i32>, reply: ReplyEmpty) {
    match result {
        Ok(()) => reply.ok(),
        Err(code) => reply.error(errno(code)),
    }
}

impl Filesystem for CasFs {
    /// FUSE_ATOMIC_O_TRUNC: an `open(O_TRUNC)` truncates in OPEN itself, instead of OPEN
    /// followed by a SETATTR round trip (the kernel has checked write permission first).
    ///
    /// Not FUSE_WRITEBACK_CACHE: with it the kernel still sends the WRITE, synchronously at
    /// `close()` (`fuse_flush` writes the inode back), and a new file costs one SETATTR
    /// more (measured with `benches/cas_requests.py`: 5 synchronous requests instead of 4).
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _after = AfterReply(&self.linger);
        let table = self.lock();
        let found = table.lookup(parent.0, name.as_bytes());
        Self::reply_entry(&table, found, reply);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let _after = AfterReply(&self.linger);
        match self.lock().node(ino.0) {
            Ok(node) => reply.attr(&TTL, &attr(ino.0, node)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let _after = AfterReply(&self.linger);
        let change = AttrChange {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
        };
        let mut table = self.lock();
        match table
            .setattr(ino.0, change)
            .and_then(|()| table.node(ino.0))
        {
            Ok(node) => reply.attr(&TTL, &attr(ino.0, node)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let _after = AfterReply(&self.linger);
        match self.lock().readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let _after = AfterReply(&self.linger);
        let mut table = self.lock();
        let made = table.mkdir(parent.0, name.as_bytes(), mode & !umask, who(req));
        Self::reply_entry(&table, made, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _after = AfterReply(&self.linger);
        done(self.lock().unlink(parent.0, name.as_bytes()), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _after = AfterReply(&self.linger);
        done(self.lock().rmdir(parent.0, name.as_bytes()), reply);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let _after = AfterReply(&self.linger);
        let mut table = self.lock();
        let made = table.symlink(
            parent.0,
            link_name.as_bytes(),
            target.as_os_str().as_bytes(),
            who(req),
        );
        Self::reply_entry(&table, made, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let _after = AfterReply(&self.linger);
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            reply.error(Errno::EINVAL);
            return;
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let result = self.lock().rename(
            parent.0,
            name.as_bytes(),
            newparent.0,
            newname.as_bytes(),
            no_replace,
        );
        done(result, reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _after = AfterReply(&self.linger);
        let truncate = flags.0 & libc::O_TRUNC != 0;
        match self.lock().open(ino.0, truncate) {
            Ok(()) => reply.opened(FileHandle(ino.0), FopenFlags::empty()),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let _after = AfterReply(&self.linger);
        match self.lock().read(ino.0, offset, size) {
            Ok(bytes) => reply.data(&bytes),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let _after = AfterReply(&self.linger);
        match self.lock().write(ino.0, offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(code) => reply.error(errno(code)),
        }
    }

    /// Not implemented, on purpose: the kernel then stops sending FLUSH (`no_flush`), so
    /// `close()` waits for no round trip to this daemon. Contents are committed at RELEASE,
    /// which the kernel sends in the background after the last close, and at fsync and
    /// snapshot; a write error of the store shows there, never at close.
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let _after = AfterReply(&self.linger);
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let _after = AfterReply(&self.linger);
        done(self.lock().release(ino.0), reply);
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let _after = AfterReply(&self.linger);
        done(self.lock().commit(ino.0), reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let _after = AfterReply(&self.linger);
        let table = self.lock();
        let listing = match table.list(ino.0) {
            Ok(listing) => listing,
            Err(code) => {
                reply.error(errno(code));
                return;
            }
        };
        let parent = table.node(ino.0).map(|n| n.parent).unwrap_or(ino.0);
        let dots = [
            (ino.0, EntryKind::Dir, b".".to_vec()),
            (parent, EntryKind::Dir, b"..".to_vec()),
        ];
        // Offsets are positions in this listing; a listing changed between calls may skip
        // or repeat a name, as readdir allows.
        for (index, (child, kind, name)) in dots
            .into_iter()
            .chain(listing)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(
                INodeNo(child),
                index as u64 + 1,
                file_type(kind),
                OsStr::from_bytes(&name),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let _after = AfterReply(&self.linger);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let _after = AfterReply(&self.linger);
        let table = self.lock();
        let files = table.len() as u64;
        let free_files = (table.max_nodes() as u64).saturating_sub(files);
        // The space is the store's host file system's (no quota): `df` and tools that
        // check free space before writing see what is really left.
        let (blocks, bfree, bavail, bsize) = table.store().space().unwrap_or((0, 0, 0, BLOCK_SIZE));
        reply.statfs(
            blocks,
            bfree,
            bavail,
            files,
            free_files,
            bsize,
            crate::MAX_NAME_BYTES as u32,
            bsize,
        );
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let _after = AfterReply(&self.linger);
        if mode & libc::S_IFMT != libc::S_IFREG && mode & libc::S_IFMT != 0 {
            reply.error(Errno::EPERM);
            return;
        }
        let _ = flags;
        let mut table = self.lock();
        let made = table
            .create(parent.0, name.as_bytes(), mode & !umask, who(req))
            .and_then(|ino| table.open(ino, false).map(|()| ino));
        match made.and_then(|ino| Ok((ino, table.node(ino)?))) {
            Ok((ino, node)) => reply.created(
                &TTL,
                &attr(ino, node),
                Generation(0),
                FileHandle(ino),
                FopenFlags::empty(),
            ),
            Err(code) => reply.error(errno(code)),
        }
    }
}
