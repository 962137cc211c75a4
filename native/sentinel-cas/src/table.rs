//! The workspace's inode table: every directory, file and link, held in memory.
//!
//! File contents are either a blob in the store (`Stored`) or, while being written, a
//! buffer (`Dirty`) committed to the store on flush, fsync, release and snapshot. Every
//! walk over the tree (snapshot, restore, the depth check of a directory rename) uses an
//! explicit stack, never recursion: the tree's shape is the agent's choice, and the
//! depth is bounded by [`crate::MAX_DEPTH`] anyway.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use crate::ids::{decode_tree, encode_tree, object_id, valid_name, EntryKind, Id, TreeEntry};
use crate::object_store::ObjectStore;
use crate::{MAX_DEPTH, MAX_FILE_BYTES};

/// An errno for the kernel.
pub type Errno = i32;

/// The root directory's inode number (FUSE's fixed root).
pub const ROOT_INO: u64 = 1;

/// A regular file's contents.
#[derive(Debug, Clone)]
pub enum FileData {
    /// In the store.
    Stored {
        /// The blob's id.
        id: Id,
        /// Its length.
        size: u64,
    },
    /// Being written; not in the store yet.
    Dirty(Vec<u8>),
}

impl FileData {
    fn size(&self) -> u64 {
        match self {
            FileData::Stored { size, .. } => *size,
            FileData::Dirty(bytes) => bytes.len() as u64,
        }
    }
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum Content {
    /// A directory: its entries and its depth below the root (the root is 0).
    Dir {
        /// Name to inode number.
        children: BTreeMap<Vec<u8>, u64>,
        /// Directories between it and the root, itself included.
        depth: u32,
    },
    /// A regular file.
    File(FileData),
    /// A symbolic link and its target (stored, never followed by this file system).
    Link(Vec<u8>),
}

/// One inode.
#[derive(Debug, Clone)]
pub struct Node {
    /// The directory holding it (the root is its own parent).
    pub parent: u64,
    /// What it is.
    pub content: Content,
    /// Permission bits.
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last access.
    pub atime: SystemTime,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
    /// Open handles on it.
    pub open: u32,
    /// Whether a directory still names it (an unlinked open file lives until released).
    pub linked: bool,
}

impl Node {
    /// The size `stat` reports.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Dir { children, .. } => children.len() as u64,
            Content::File(data) => data.size(),
            Content::Link(target) => target.len() as u64,
        }
    }

    /// The tree entry kind of this node.
    pub fn kind(&self) -> EntryKind {
        match self.content {
            Content::Dir { .. } => EntryKind::Dir,
            Content::File(_) => EntryKind::File,
            Content::Link(_) => EntryKind::Link,
        }
    }
}

/// Who creates a node.
#[derive(Debug, Clone, Copy)]
pub struct Creator {
    /// The caller's uid.
    pub uid: u32,
    /// The caller's gid.
    pub gid: u32,
}

/// Attribute changes (`setattr`).
#[derive(Debug, Default, Clone, Copy)]
pub struct AttrChange {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New length (truncate or extend with zeros).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SystemTime>,
    /// New modification time.
    pub mtime: Option<SystemTime>,
}

/// The inode table of one mount.
#[derive(Debug)]
pub struct Table {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    max_nodes: usize,
    store: Arc<ObjectStore>,
}

fn new_node(parent: u64, content: Content, mode: u16, who: Creator) -> Node {
    let now = SystemTime::now();
    Node {
        parent,
        content,
        mode: mode & 0o7777,
        uid: who.uid,
        gid: who.gid,
        atime: now,
        mtime: now,
        ctime: now,
        open: 0,
        linked: true,
    }
}

fn io_errno(err: &std::io::Error) -> Errno {
    err.raw_os_error().unwrap_or(libc::EIO)
}

impl Table {
    /// An empty workspace: a root directory owned by `owner` with `mode`.
    pub fn new(store: Arc<ObjectStore>, owner: Creator, mode: u16, max_nodes: usize) -> Self {
        let root = new_node(
            ROOT_INO,
            Content::Dir {
                children: BTreeMap::new(),
                depth: 0,
            },
            mode,
            owner,
        );
        Self {
            nodes: HashMap::from([(ROOT_INO, root)]),
            next_ino: ROOT_INO + 1,
            max_nodes,
            store,
        }
    }

    /// The node `ino`.
    pub fn node(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn children(&self, ino: u64) -> Result<&BTreeMap<Vec<u8>, u64>, Errno> {
        match &self.node(ino)?.content {
            Content::Dir { children, .. } => Ok(children),
            _ => Err(libc::ENOTDIR),
        }
    }

    fn depth(&self, ino: u64) -> Result<u32, Errno> {
        match &self.node(ino)?.content {
            Content::Dir { depth, .. } => Ok(*depth),
            _ => Err(libc::ENOTDIR),
        }
    }

    /// The object store the table commits to.
    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    /// The most inodes this table may hold.
    pub fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    /// The number of live inodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the root exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// The inode `name` names in directory `parent`.
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<u64, Errno> {
        if name.len() > crate::MAX_NAME_BYTES {
            return Err(libc::ENAMETOOLONG);
        }
        self.children(parent)?
            .get(name)
            .copied()
            .ok_or(libc::ENOENT)
    }

    /// The entries of directory `ino`, in name order.
    pub fn list(&self, ino: u64) -> Result<Vec<(u64, EntryKind, Vec<u8>)>, Errno> {
        let children = self.children(ino)?;
        let mut out = Vec::with_capacity(children.len());
        for (name, child) in children {
            out.push((*child, self.node(*child)?.kind(), name.clone()));
        }
        Ok(out)
    }

    fn check_new_name(&self, parent: u64, name: &[u8]) -> Result<(), Errno> {
        if name.len() > crate::MAX_NAME_BYTES {
            return Err(libc::ENAMETOOLONG);
        }
        if !valid_name(name) {
            return Err(libc::EINVAL);
        }
        if self.children(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        if self.nodes.len() >= self.max_nodes {
            return Err(libc::ENOSPC);
        }
        Ok(())
    }

    fn insert(&mut self, parent: u64, name: &[u8], node: Node) -> Result<u64, Errno> {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        let now = SystemTime::now();
        let dir = self.node_mut(parent)?;
        dir.mtime = now;
        dir.ctime = now;
        if let Content::Dir { children, .. } = &mut dir.content {
            children.insert(name.to_vec(), ino);
        }
        Ok(ino)
    }

    /// Make directory `name` in `parent`. Refuses (EMLINK) beyond [`MAX_DEPTH`].
    pub fn mkdir(
        &mut self,
        parent: u64,
        name: &[u8],
        mode: u32,
        who: Creator,
    ) -> Result<u64, Errno> {
        self.check_new_name(parent, name)?;
        let depth = self.depth(parent)? + 1;
        if depth > MAX_DEPTH {
            return Err(libc::EMLINK);
        }
        let content = Content::Dir {
            children: BTreeMap::new(),
            depth,
        };
        self.insert(parent, name, new_node(parent, content, mode as u16, who))
    }

    /// Make an empty regular file `name` in `parent`.
    pub fn create(
        &mut self,
        parent: u64,
        name: &[u8],
        mode: u32,
        who: Creator,
    ) -> Result<u64, Errno> {
        self.check_new_name(parent, name)?;
        let content = Content::File(FileData::Dirty(Vec::new()));
        self.insert(parent, name, new_node(parent, content, mode as u16, who))
    }

    /// Make symbolic link `name` in `parent` pointing at `target`.
    pub fn symlink(
        &mut self,
        parent: u64,
        name: &[u8],
        target: &[u8],
        who: Creator,
    ) -> Result<u64, Errno> {
        self.check_new_name(parent, name)?;
        if target.is_empty() || target.len() > crate::MAX_LINK_BYTES {
            return Err(libc::ENAMETOOLONG);
        }
        let content = Content::Link(target.to_vec());
        self.insert(parent, name, new_node(parent, content, 0o777, who))
    }

    fn detach(&mut self, parent: u64, name: &[u8]) -> Result<u64, Errno> {
        let now = SystemTime::now();
        let dir = self.node_mut(parent)?;
        let Content::Dir { children, .. } = &mut dir.content else {
            return Err(libc::ENOTDIR);
        };
        let ino = children.remove(name).ok_or(libc::ENOENT)?;
        dir.mtime = now;
        dir.ctime = now;
        Ok(ino)
    }

    fn drop_if_unused(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get(&ino) {
            if !node.linked && node.open == 0 {
                self.nodes.remove(&ino);
            }
        }
    }

    /// Remove the non-directory `name` from `parent`.
    pub fn unlink(&mut self, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        if matches!(self.node(ino)?.content, Content::Dir { .. }) {
            return Err(libc::EISDIR);
        }
        self.detach(parent, name)?;
        let node = self.node_mut(ino)?;
        node.linked = false;
        node.ctime = SystemTime::now();
        self.drop_if_unused(ino);
        Ok(())
    }

    /// Remove the empty directory `name` from `parent`.
    pub fn rmdir(&mut self, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        if !self.children(ino)?.is_empty() {
            return Err(libc::ENOTEMPTY);
        }
        self.detach(parent, name)?;
        self.nodes.remove(&ino);
        Ok(())
    }

    /// How many directory levels lie below directory `ino` (0 for an empty one).
    fn height(&self, ino: u64) -> Result<u32, Errno> {
        let base = self.depth(ino)?;
        let mut deepest = base;
        let mut stack = vec![ino];
        while let Some(dir) = stack.pop() {
            for child in self.children(dir)?.values() {
                if let Content::Dir { depth, .. } = self.node(*child)?.content {
                    deepest = deepest.max(depth);
                    stack.push(*child);
                }
            }
        }
        Ok(deepest - base)
    }

    fn set_depths(&mut self, ino: u64, depth: u32) -> Result<(), Errno> {
        let mut stack = vec![(ino, depth)];
        while let Some((dir, level)) = stack.pop() {
            let node = self.node_mut(dir)?;
            let Content::Dir { children, depth } = &mut node.content else {
                continue;
            };
            *depth = level;
            let kids: Vec<u64> = children.values().copied().collect();
            for kid in kids {
                if matches!(self.node(kid)?.content, Content::Dir { .. }) {
                    stack.push((kid, level + 1));
                }
            }
        }
        Ok(())
    }

    /// Move `name` in `parent` to `new_name` in `new_parent`, replacing what is there unless
    /// `no_replace`. A directory cannot move below itself (EINVAL) nor past [`MAX_DEPTH`].
    pub fn rename(
        &mut self,
        parent: u64,
        name: &[u8],
        new_parent: u64,
        new_name: &[u8],
        no_replace: bool,
    ) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        if !valid_name(new_name) {
            return Err(if new_name.len() > crate::MAX_NAME_BYTES {
                libc::ENAMETOOLONG
            } else {
                libc::EINVAL
            });
        }
        let new_parent_depth = self.depth(new_parent)?;
        let moving_dir = matches!(self.node(ino)?.content, Content::Dir { .. });
        if moving_dir {
            // The kernel refuses this too; checked again because the table must stay a tree.
            let mut at = new_parent;
            loop {
                if at == ino {
                    return Err(libc::EINVAL);
                }
                if at == ROOT_INO {
                    break;
                }
                at = self.node(at)?.parent;
            }
            if new_parent_depth + 1 + self.height(ino)? > MAX_DEPTH {
                return Err(libc::EMLINK);
            }
        }
        let existing = self.children(new_parent)?.get(new_name).copied();
        if let Some(target) = existing {
            if target == ino {
                return Ok(());
            }
            if no_replace {
                return Err(libc::EEXIST);
            }
            match (&self.node(target)?.content, moving_dir) {
                (Content::Dir { children, .. }, true) if children.is_empty() => {
                    self.rmdir(new_parent, new_name)?;
                }
                (Content::Dir { .. }, true) => return Err(libc::ENOTEMPTY),
                (Content::Dir { .. }, false) => return Err(libc::EISDIR),
                (_, true) => return Err(libc::ENOTDIR),
                (_, false) => self.unlink(new_parent, new_name)?,
            }
        }
        self.detach(parent, name)?;
        let now = SystemTime::now();
        let dir = self.node_mut(new_parent)?;
        if let Content::Dir { children, .. } = &mut dir.content {
            children.insert(new_name.to_vec(), ino);
        }
        dir.mtime = now;
        dir.ctime = now;
        let node = self.node_mut(ino)?;
        node.parent = new_parent;
        node.ctime = now;
        if moving_dir {
            self.set_depths(ino, new_parent_depth + 1)?;
        }
        Ok(())
    }

    /// The target of link `ino`.
    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        match &self.node(ino)?.content {
            Content::Link(target) => Ok(target.clone()),
            _ => Err(libc::EINVAL),
        }
    }

    /// An open handle on `ino`; `truncate` empties the file (O_TRUNC).
    pub fn open(&mut self, ino: u64, truncate: bool) -> Result<(), Errno> {
        let node = self.node_mut(ino)?;
        if truncate {
            if let Content::File(data) = &mut node.content {
                *data = FileData::Dirty(Vec::new());
                let now = SystemTime::now();
                node.mtime = now;
                node.ctime = now;
            }
        }
        node.open += 1;
        Ok(())
    }

    /// The end of an open handle: commits the contents, drops an unlinked file.
    pub fn release(&mut self, ino: u64) -> Result<(), Errno> {
        let result = self.commit(ino);
        if let Ok(node) = self.node_mut(ino) {
            node.open = node.open.saturating_sub(1);
        }
        self.drop_if_unused(ino);
        result
    }

    /// Store a written file's contents (a no-op for anything else or a clean file).
    pub fn commit(&mut self, ino: u64) -> Result<(), Errno> {
        let store = Arc::clone(&self.store);
        let node = self.node_mut(ino)?;
        if let Content::File(data) = &mut node.content {
            if let FileData::Dirty(bytes) = data {
                let id = store
                    .put(EntryKind::File, bytes)
                    .map_err(|e| io_errno(&e))?;
                *data = FileData::Stored {
                    id,
                    size: bytes.len() as u64,
                };
            }
        }
        Ok(())
    }

    fn dirty_bytes(&mut self, ino: u64) -> Result<&mut Vec<u8>, Errno> {
        let store = Arc::clone(&self.store);
        let node = self.node_mut(ino)?;
        let Content::File(data) = &mut node.content else {
            return Err(libc::EISDIR);
        };
        if let FileData::Stored { id, .. } = data {
            let bytes = store.get(id).map_err(|e| io_errno(&e))?;
            *data = FileData::Dirty(bytes);
        }
        match data {
            FileData::Dirty(bytes) => Ok(bytes),
            FileData::Stored { .. } => Err(libc::EIO),
        }
    }

    /// Up to `size` bytes of file `ino` from `offset`.
    pub fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let Content::File(data) = &self.node(ino)?.content else {
            return Err(libc::EISDIR);
        };
        let end = data.size().min(offset.saturating_add(u64::from(size)));
        if offset >= end {
            return Ok(Vec::new());
        }
        let len = (end - offset) as usize;
        match data {
            FileData::Dirty(bytes) => Ok(bytes[offset as usize..offset as usize + len].to_vec()),
            FileData::Stored { id, .. } => {
                let mut buf = vec![0u8; len];
                let got = self
                    .store
                    .read_at(id, offset, &mut buf)
                    .map_err(|e| io_errno(&e))?;
                buf.truncate(got);
                Ok(buf)
            }
        }
    }

    /// Write `data` into file `ino` at `offset`; returns the count written.
    pub fn write(&mut self, ino: u64, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let end = offset.checked_add(data.len() as u64).ok_or(libc::EFBIG)?;
        if end > MAX_FILE_BYTES {
            return Err(libc::EFBIG);
        }
        let bytes = self.dirty_bytes(ino)?;
        let (start, end) = (offset as usize, end as usize);
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        let now = SystemTime::now();
        let node = self.node_mut(ino)?;
        node.mtime = now;
        node.ctime = now;
        Ok(data.len())
    }

    /// Apply `change` to `ino` (the kernel has checked the caller's rights:
    /// `default_permissions`).
    pub fn setattr(&mut self, ino: u64, change: AttrChange) -> Result<(), Errno> {
        if let Some(size) = change.size {
            if size > MAX_FILE_BYTES {
                return Err(libc::EFBIG);
            }
            self.dirty_bytes(ino)?.resize(size as usize, 0);
        }
        let now = SystemTime::now();
        let node = self.node_mut(ino)?;
        if change.size.is_some() {
            node.mtime = now;
        }
        if let Some(mode) = change.mode {
            node.mode = (mode & 0o7777) as u16;
        }
        if let Some(uid) = change.uid {
            node.uid = uid;
        }
        if let Some(gid) = change.gid {
            node.gid = gid;
        }
        if let Some(atime) = change.atime {
            node.atime = atime;
        }
        if let Some(mtime) = change.mtime {
            node.mtime = mtime;
        }
        node.ctime = now;
        Ok(())
    }

    /// Commit every file and store every directory as a tree; returns the root's tree id.
    pub fn snapshot(&mut self) -> Result<Id, Errno> {
        // Directories in an order where each comes before its children; walked backwards,
        // children are done before their parent.
        let mut dirs = vec![ROOT_INO];
        let mut at = 0;
        while at < dirs.len() {
            let dir = dirs[at];
            at += 1;
            for child in self.children(dir)?.values() {
                if matches!(self.node(*child)?.content, Content::Dir { .. }) {
                    dirs.push(*child);
                }
            }
        }
        let mut tree_ids: HashMap<u64, Id> = HashMap::with_capacity(dirs.len());
        for &dir in dirs.iter().rev() {
            let listing: Vec<(Vec<u8>, u64)> = self
                .children(dir)?
                .iter()
                .map(|(name, ino)| (name.clone(), *ino))
                .collect();
            let mut entries = Vec::with_capacity(listing.len());
            for (name, ino) in listing {
                self.commit(ino)?;
                let node = self.node(ino)?;
                let id = match &node.content {
                    Content::Dir { .. } => tree_ids[&ino],
                    Content::File(FileData::Stored { id, .. }) => *id,
                    Content::File(FileData::Dirty(_)) => return Err(libc::EIO),
                    Content::Link(target) => self
                        .store
                        .put(EntryKind::Link, target)
                        .map_err(|e| io_errno(&e))?,
                };
                entries.push(TreeEntry {
                    kind: node.kind(),
                    mode: node.mode,
                    uid: node.uid,
                    gid: node.gid,
                    name,
                    id,
                });
            }
            let id = self
                .store
                .put(EntryKind::Dir, &encode_tree(&entries))
                .map_err(|e| io_errno(&e))?;
            tree_ids.insert(dir, id);
        }
        Ok(tree_ids[&ROOT_INO])
    }

    /// Replace the whole tree below the root with snapshot `root`; returns the names the
    /// root held before (the kernel's cached entries to invalidate). Nothing changes when
    /// the snapshot cannot be read whole.
    pub fn restore(&mut self, root: &Id) -> Result<Vec<Vec<u8>>, String> {
        let mut nodes: HashMap<u64, Node> = HashMap::new();
        let mut next_ino = self.next_ino;
        let mut root_node = self
            .node(ROOT_INO)
            .map_err(|_| "no root".to_string())?
            .clone();
        let mut root_children = BTreeMap::new();
        // (tree id, directory inode, its depth); the root's children are gathered apart.
        let mut stack: Vec<(Id, u64, u32)> = vec![(*root, ROOT_INO, 0)];
        let now = SystemTime::now();
        while let Some((tree, dir_ino, depth)) = stack.pop() {
            let payload = self
                .store
                .get(&tree)
                .map_err(|e| format!("tree {}: {e}", hex::encode(tree)))?;
            if object_id(EntryKind::Dir, &payload) != tree {
                return Err(format!(
                    "tree {} does not match its contents",
                    hex::encode(tree)
                ));
            }
            let entries =
                decode_tree(&payload).map_err(|e| format!("tree {}: {e}", hex::encode(tree)))?;
            let mut children = BTreeMap::new();
            for entry in entries {
                if nodes.len() + 1 >= self.max_nodes {
                    return Err(format!("snapshot has more than {} inodes", self.max_nodes));
                }
                let ino = next_ino;
                next_ino += 1;
                let content = match entry.kind {
                    EntryKind::Dir => {
                        if depth + 1 > MAX_DEPTH {
                            return Err(format!("snapshot is deeper than {MAX_DEPTH} directories"));
                        }
                        stack.push((entry.id, ino, depth + 1));
                        Content::Dir {
                            children: BTreeMap::new(),
                            depth: depth + 1,
                        }
                    }
                    EntryKind::File => {
                        let size = self
                            .store
                            .size(&entry.id)
                            .map_err(|e| format!("blob {}: {e}", hex::encode(entry.id)))?;
                        Content::File(FileData::Stored { id: entry.id, size })
                    }
                    EntryKind::Link => {
                        let target = self
                            .store
                            .get(&entry.id)
                            .map_err(|e| format!("link {}: {e}", hex::encode(entry.id)))?;
                        Content::Link(target)
                    }
                };
                nodes.insert(
                    ino,
                    Node {
                        parent: dir_ino,
                        content,
                        mode: entry.mode & 0o7777,
                        uid: entry.uid,
                        gid: entry.gid,
                        atime: now,
                        mtime: now,
                        ctime: now,
                        open: 0,
                        linked: true,
                    },
                );
                children.insert(entry.name, ino);
            }
            if dir_ino == ROOT_INO {
                root_children = children;
            } else if let Some(Node {
                content: Content::Dir { children: slot, .. },
                ..
            }) = nodes.get_mut(&dir_ino)
            {
                *slot = children;
            }
        }
        let previous: Vec<Vec<u8>> = self
            .children(ROOT_INO)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        root_node.content = Content::Dir {
            children: root_children,
            depth: 0,
        };
        root_node.mtime = now;
        root_node.ctime = now;
        // Open files keep their (now unlinked) inodes until released.
        self.nodes.retain(|_, node| node.open > 0);
        for node in self.nodes.values_mut() {
            node.linked = false;
        }
        nodes.insert(ROOT_INO, root_node);
        self.nodes.extend(nodes);
        self.next_ino = next_ino;
        Ok(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test's object store directory, removed when the test ends (passed or failed).
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn table(name: &str) -> (Table, Scratch) {
        let dir = std::env::temp_dir().join(format!("sentinel-cas-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(ObjectStore::open(&dir).unwrap());
        (
            Table::new(store, Creator { uid: 0, gid: 0 }, 0o755, 10_000),
            Scratch(dir),
        )
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let (mut t, _scratch) = table("depth");
        let who = Creator { uid: 0, gid: 0 };
        let mut dir = ROOT_INO;
        for _ in 0..MAX_DEPTH {
            dir = t.mkdir(dir, b"d", 0o755, who).unwrap();
        }
        assert_eq!(t.mkdir(dir, b"d", 0o755, who), Err(libc::EMLINK));
        let root = t.snapshot().unwrap();
        t.restore(&root).unwrap();
        assert_eq!(t.len(), MAX_DEPTH as usize + 1);
    }

    #[test]
    fn restore_brings_back_contents_and_owners() {
        let (mut t, _scratch) = table("restore");
        let who = Creator {
            uid: 1000,
            gid: 1000,
        };
        let file = t.create(ROOT_INO, b"f", 0o640, who).unwrap();
        t.write(file, 0, b"first").unwrap();
        let first = t.snapshot().unwrap();
        t.write(file, 0, b"SECOND").unwrap();
        t.unlink(ROOT_INO, b"f").unwrap();
        assert_ne!(t.snapshot().unwrap(), first);
        t.restore(&first).unwrap();
        let ino = t.lookup(ROOT_INO, b"f").unwrap();
        assert_eq!(t.read(ino, 0, 100).unwrap(), b"first");
        let node = t.node(ino).unwrap();
        assert_eq!((node.uid, node.gid, node.mode), (1000, 1000, 0o640));
    }

    #[test]
    fn a_directory_cannot_move_below_itself() {
        let (mut t, _scratch) = table("rename");
        let who = Creator { uid: 0, gid: 0 };
        let a = t.mkdir(ROOT_INO, b"a", 0o755, who).unwrap();
        t.mkdir(a, b"b", 0o755, who).unwrap();
        let b = t.lookup(a, b"b").unwrap();
        assert_eq!(t.rename(ROOT_INO, b"a", b, b"a", false), Err(libc::EINVAL));
    }
}
