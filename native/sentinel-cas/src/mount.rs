//! One mounted workspace: the FUSE session on its own thread, the table shared with it.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use std::os::fd::AsFd;
use std::time::Duration;

use fuser::{BackgroundSession, Config, INodeNo, MountOption, Session, SessionACL};

use crate::fuse_fs::CasFs;
use crate::ids::Id;
use crate::linger::{Linger, LingerStats};
use crate::object_store::ObjectStore;
use crate::table::{Creator, Table, ROOT_INO};

/// How a workspace is mounted.
#[derive(Debug, Clone, Copy)]
pub struct MountSettings {
    /// Owner of the root directory.
    pub owner: Creator,
    /// Permission bits of the root directory.
    pub root_mode: u16,
    /// Most inodes the workspace may hold (ENOSPC beyond).
    pub max_nodes: usize,
    /// How long the request thread spins after each reply waiting for the next request
    /// (zero: it blocks at once); see [`crate::linger`].
    pub linger: Duration,
}

/// A mounted content-addressed workspace.
pub struct CasMount {
    table: Arc<Mutex<Table>>,
    linger: Arc<Linger>,
    session: Option<BackgroundSession>,
}

impl CasMount {
    /// Mount an empty workspace on `mountpoint`, backed by `store`.
    ///
    /// Options: `allow_other` (the agent's uid is not the daemon's), `default_permissions`
    /// (the kernel checks modes and owners), `nosuid`, `nodev`, `noexec` (as the ext4 quota
    /// workspace: nothing on it can be mapped executable).
    pub fn mount(
        store: Arc<ObjectStore>,
        mountpoint: &Path,
        settings: MountSettings,
    ) -> io::Result<Self> {
        let table = Arc::new(Mutex::new(Table::new(
            store,
            settings.owner,
            settings.root_mode,
            settings.max_nodes,
        )));
        let linger = Arc::new(Linger::new(settings.linger));
        let fs = CasFs {
            table: Arc::clone(&table),
            linger: Arc::clone(&linger),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("sentinel-cas".to_string()),
            MountOption::Subtype("sentinel-cas".to_string()),
            MountOption::DefaultPermissions,
            MountOption::NoSuid,
            MountOption::NoDev,
            MountOption::NoExec,
            MountOption::NoAtime,
        ];
        config.acl = SessionACL::All;
        let session = Session::new(fs, mountpoint, &config)?;
        // The spin polls a duplicate of the session's descriptor (same open file).
        linger.attach(session.as_fd().try_clone_to_owned()?);
        let session = session.spawn()?;
        Ok(Self {
            table,
            linger,
            session: Some(session),
        })
    }

    /// Commit every file and store the tree; returns the Merkle root.
    pub fn snapshot(&self) -> io::Result<Id> {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
            .map_err(io::Error::from_raw_os_error)
    }

    /// Make the workspace the tree of snapshot `root`.
    pub fn restore(&self, root: &Id) -> Result<(), String> {
        let previous = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .restore(root)?;
        // The kernel caches the old entries; drop them so the next lookup asks again. Done
        // without the table lock: the kernel may wait on a request that needs it.
        if let Some(session) = &self.session {
            let notifier = session.notifier();
            for name in previous {
                let _ = notifier.inval_entry(INodeNo(ROOT_INO), std::ffi::OsStr::from_bytes(&name));
            }
            let _ = notifier.inval_inode(INodeNo(ROOT_INO), 0, 0);
        }
        Ok(())
    }

    /// Live inodes.
    pub fn inodes(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// What the spin after each reply has cost and caught so far.
    pub fn linger_stats(&self) -> LingerStats {
        self.linger.stats()
    }

    /// Unmount and wait for the session thread to end.
    pub fn unmount(&mut self) -> io::Result<()> {
        let result = match self.session.take() {
            Some(session) => session.umount_and_join(),
            None => Ok(()),
        };
        self.linger.detach();
        result
    }
}

use std::os::unix::ffi::OsStrExt;

impl Drop for CasMount {
    fn drop(&mut self) {
        let _ = self.unmount();
    }
}
