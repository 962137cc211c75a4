//! sentinel-shim: applies a Landlock ruleset, then executes the agent's command.
//!
//! Runs inside the sandbox after bubblewrap has made its mounts (Landlock would forbid
//! them), as the last step before the agent's command. It is the native twin of
//! `sentinel/sandbox/shim/landlock_shim.py` (the reference, used when this binary is not
//! available): same rules, same exit statuses (126: Landlock could not be applied and the
//! command was not run; 127: the command was not found).
//!
//! Built by `native/sentinel-py/build.rs` with the same rustc, without dependencies: it
//! only needs the C library the sandboxed command needs anyway.
//!
//! Usage: sentinel-shim ABI CWD [r PATH | x PATH | w PATH | p PORT | s FD | o FD]... -- COMMAND [ARG]...
//!
//! With `s FD o FD` it also installs the seccomp program read from the first descriptor with a
//! user-notification listener, forks, executes the command in the child, and in the parent
//! answers every notification with EPERM and writes `PID SYSCALL` lines to the second
//! descriptor, so refused system calls of one-shot runs are recorded (as in warm sandboxes).

use std::ffi::{CString, OsStr, OsString};
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

extern "C" {
    fn syscall(number: c_long, ...) -> c_long;
    fn prctl(option: c_int, ...) -> c_int;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn fstat(fd: c_int, buf: *mut Stat) -> c_int;
    fn chdir(path: *const c_char) -> c_int;
    fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int;
    fn __errno_location() -> *mut c_int;
    fn fork() -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn poll(fds: *mut PollFd, nfds: u64, timeout: c_int) -> c_int;
    fn ioctl(fd: c_int, request: u64, ...) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn getpid() -> c_int;
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

#[repr(C)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: c_int,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const SYS_SECCOMP: c_long = 317;
const SYS_PIDFD_OPEN: c_long = 434;
const SECCOMP_SET_MODE_FILTER: c_long = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: c_long = 1 << 3;
// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp)
const IOCTL_NOTIF_RECV: u64 = (3 << 30) | (80 << 16) | (0x21 << 8);
const IOCTL_NOTIF_SEND: u64 = (3 << 30) | (24 << 16) | (0x21 << 8) | 1;
const POLLIN: i16 = 1;
const WNOHANG: c_int = 1;
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;
const EPERM: i32 = 1;
const EINTR: i32 = 4;
const SIG_DFL: usize = 0;

#[repr(C)]
struct Stat {
    // Only st_mode is read; the rest is padding large enough for every Linux ABI.
    _dev: u64,
    _ino: u64,
    _nlink: u64,
    st_mode: u32,
    _rest: [u8; 256],
}

const SYS_CREATE: c_long = 444;
const SYS_ADD_RULE: c_long = 445;
const SYS_RESTRICT: c_long = 446;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
const O_PATH: c_int = 0o10000000;
const O_CLOEXEC: c_int = 0o2000000;
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const RULE_PATH_BENEATH: c_int = 1;
const RULE_NET_PORT: c_int = 2;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SOCK: u64 = 1 << 9;
const FS_MAKE_FIFO: u64 = 1 << 10;
const FS_MAKE_SYM: u64 = 1 << 12;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

const READ: u64 = FS_READ_FILE | FS_READ_DIR;
const WRITE: u64 = FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SYM
    | FS_MAKE_FIFO
    | FS_MAKE_SOCK
    | FS_REFER
    | FS_TRUNCATE;
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

const SHIM_FAILED: i32 = 126;
const NOT_FOUND: i32 = 127;

fn handled_fs(abi: u32) -> u64 {
    match abi {
        0 => 0,
        1 => (1 << 13) - 1,
        2 => (1 << 14) - 1,
        3 | 4 => (1 << 15) - 1,
        _ => (1 << 16) - 1,
    }
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot, valid for the thread's life.
    unsafe { *__errno_location() }
}

fn fail(what: &str) -> ! {
    let err = std::io::Error::from_raw_os_error(errno());
    eprintln!("sentinel: Landlock could not be applied ({what}: {err}); the command was not run");
    std::process::exit(SHIM_FAILED)
}

fn cstring(value: &OsStr) -> CString {
    CString::new(value.as_bytes()).unwrap_or_else(|_| {
        eprintln!("sentinel: an argument contains a NUL byte");
        std::process::exit(SHIM_FAILED)
    })
}

fn add_path_rule(ruleset: c_long, path: &OsStr, access: u64) {
    let c_path = cstring(path);
    // SAFETY: c_path is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { open(c_path.as_ptr(), O_PATH | O_CLOEXEC) };
    if fd < 0 {
        return; // a bind that does not exist on this host grants nothing
    }
    let mut info = Stat {
        _dev: 0,
        _ino: 0,
        _nlink: 0,
        st_mode: 0,
        _rest: [0; 256],
    };
    // SAFETY: fd is open; info is large enough for struct stat on Linux.
    let is_dir = unsafe { fstat(fd, &mut info) } == 0 && info.st_mode & S_IFMT == S_IFDIR;
    let rule = PathBeneathAttr {
        allowed_access: if is_dir { access } else { access & FILE_RIGHTS },
        parent_fd: fd,
    };
    // SAFETY: rule lives across the call; the kernel copies it.
    let result = unsafe {
        syscall(
            SYS_ADD_RULE,
            ruleset,
            RULE_PATH_BENEATH,
            &rule as *const _ as *const c_void,
            0,
        )
    };
    // SAFETY: fd was opened above and is closed exactly once.
    unsafe { close(fd) };
    if result < 0 {
        fail(&format!("landlock_add_rule {}", path.to_string_lossy()));
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or_else(|| {
        eprintln!("usage: sentinel-shim ABI CWD [r|x|w PATH | p PORT]... -- COMMAND [ARG]...");
        std::process::exit(SHIM_FAILED)
    });
    let (spec, command) = (&args[..split], &args[split + 1..]);
    if spec.len() < 2 || command.is_empty() || (spec.len() - 2) % 2 != 0 {
        eprintln!("sentinel: malformed shim arguments");
        std::process::exit(SHIM_FAILED);
    }
    let abi: u32 = spec[0].to_string_lossy().parse().unwrap_or(0);
    let fs = handled_fs(abi);
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size: usize = if abi >= 6 { 24 } else { 16 };
    // SAFETY: attr is valid for `size` bytes and outlives the call.
    let ruleset = unsafe { syscall(SYS_CREATE, &attr as *const _ as *const c_void, size, 0u32) };
    if ruleset < 0 {
        fail("landlock_create_ruleset");
    }
    let mut rights: Vec<(OsString, u64)> = Vec::new();
    let mut ports: Vec<u64> = Vec::new();
    let mut notify_program_fd: Option<c_int> = None;
    let mut report_fd: Option<c_int> = None;
    for pair in spec[2..].chunks(2) {
        let (kind, value) = (pair[0].to_string_lossy(), &pair[1]);
        let access = match kind.as_ref() {
            "r" => READ,
            "x" => READ | FS_EXECUTE,
            "w" => READ | WRITE,
            "p" => {
                ports.push(value.to_string_lossy().parse().unwrap_or(0));
                continue;
            }
            "s" => {
                notify_program_fd = value.to_string_lossy().parse().ok();
                continue;
            }
            "o" => {
                report_fd = value.to_string_lossy().parse().ok();
                continue;
            }
            _ => {
                eprintln!("sentinel: unknown shim rule kind {kind:?}");
                std::process::exit(SHIM_FAILED)
            }
        };
        match rights.iter_mut().find(|(path, _)| path == value) {
            Some((_, existing)) => *existing |= access,
            None => rights.push((value.clone(), access)),
        }
    }
    for (path, access) in &rights {
        add_path_rule(ruleset, path, access & fs);
    }
    if abi >= 4 {
        ports.sort_unstable();
        ports.dedup();
        for port in ports {
            let rule = NetPortAttr {
                allowed_access: NET_CONNECT_TCP,
                port,
            };
            // SAFETY: rule lives across the call; the kernel copies it.
            if unsafe {
                syscall(
                    SYS_ADD_RULE,
                    ruleset,
                    RULE_NET_PORT,
                    &rule as *const _ as *const c_void,
                    0,
                )
            } < 0
            {
                fail(&format!("landlock_add_rule TCP port {port}"));
            }
        }
    }
    // SAFETY: plain prctl and landlock calls on this process with valid arguments.
    unsafe {
        if prctl(
            PR_SET_NO_NEW_PRIVS,
            1 as c_long,
            0 as c_long,
            0 as c_long,
            0 as c_long,
        ) < 0
        {
            fail("prctl(PR_SET_NO_NEW_PRIVS)");
        }
        if syscall(SYS_RESTRICT, ruleset, 0u32) < 0 {
            fail("landlock_restrict_self");
        }
        close(ruleset as c_int);
    }
    let cwd = cstring(&spec[1]);
    // SAFETY: cwd is a valid NUL-terminated string.
    if unsafe { chdir(cwd.as_ptr()) } < 0 {
        fail("chdir");
    }
    if let (Some(program_fd), Some(report)) = (notify_program_fd, report_fd) {
        supervise(program_fd, report); // returns only in the forked child
    }
    let c_args: Vec<CString> = command.iter().map(|a| cstring(a)).collect();
    let mut argv: Vec<*const c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of valid strings that outlive the call.
    unsafe { execvp(argv[0], argv.as_ptr()) };
    let code = if errno() == 2 { NOT_FOUND } else { SHIM_FAILED };
    eprintln!(
        "sentinel: cannot execute {:?}: {}",
        OsString::from_vec(command[0].as_bytes().to_vec()),
        std::io::Error::from_raw_os_error(errno())
    );
    std::process::exit(code)
}

/// Installs the notifying filter and forks. The child returns (and executes the command);
/// the parent answers notifications until the child exits, then exits the same way.
fn supervise(program_fd: c_int, report: c_int) {
    let mut program = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        // SAFETY: buffer is valid for its length.
        let n = unsafe { read(program_fd, buffer.as_mut_ptr() as *mut c_void, buffer.len()) };
        if n <= 0 {
            break;
        }
        program.extend_from_slice(&buffer[..n as usize]);
    }
    // SAFETY: both descriptors were given to us; the command must not inherit them.
    unsafe {
        close(program_fd);
        fcntl(report, F_SETFD, FD_CLOEXEC);
    }
    let fprog = SockFprog {
        len: (program.len() / 8) as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: fprog points at the program, alive across the call (the kernel copies it).
    let listener = unsafe {
        syscall(
            SYS_SECCOMP,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const _ as *const c_void,
        )
    } as c_int;
    if listener < 0 {
        fail("seccomp(NEW_LISTENER)");
    }
    // SAFETY: fork in a single-threaded process.
    let child = unsafe { fork() };
    if child < 0 {
        fail("fork");
    }
    if child == 0 {
        // SAFETY: the command must not hold the listener (it would answer its own calls).
        unsafe { close(listener) };
        return;
    }
    // A pidfd becomes readable when the child exits: poll it beside the listener, so a short
    // command is not kept waiting for a poll timeout.
    // SAFETY: pidfd_open on our own child.
    let pidfd = unsafe { syscall(SYS_PIDFD_OPEN, child as c_long, 0 as c_long) } as c_int;
    let mut status: c_int = 0;
    loop {
        let mut fds = [
            PollFd {
                fd: listener,
                events: POLLIN,
                revents: 0,
            },
            PollFd {
                fd: pidfd,
                events: POLLIN,
                revents: 0,
            },
        ];
        let watched = if pidfd >= 0 { 2 } else { 1 };
        // SAFETY: fds holds `watched` valid pollfds.
        let ready = unsafe { poll(fds.as_mut_ptr(), watched, if pidfd >= 0 { -1 } else { 5 }) };
        if ready > 0 && fds[0].revents & POLLIN != 0 {
            answer(listener, report);
        }
        // SAFETY: status is a valid out-pointer.
        let done = unsafe { waitpid(child, &mut status, WNOHANG) };
        if done == child || (done < 0 && errno() != EINTR) {
            break;
        }
    }
    // Exit as the command did: same status, or the same signal.
    let (exited, code, sig) = (status & 0x7f == 0, (status >> 8) & 0xff, status & 0x7f);
    if !exited {
        // SAFETY: restore the default action and deliver the command's signal to ourselves.
        unsafe {
            signal(sig, SIG_DFL);
            kill(getpid(), sig);
        }
    }
    std::process::exit(if exited { code } else { 128 + sig })
}

fn answer(listener: c_int, report: c_int) {
    let mut notif = SeccompNotif {
        id: 0,
        pid: 0,
        flags: 0,
        nr: 0,
        arch: 0,
        ip: 0,
        args: [0; 6],
    };
    // SAFETY: notif is zeroed and sized as the kernel expects (80 bytes).
    if unsafe { ioctl(listener, IOCTL_NOTIF_RECV, &mut notif as *mut SeccompNotif) } < 0 {
        return; // interrupted, or the caller died before we read it
    }
    let line = format!("{} {}\n", notif.pid, notif.nr);
    // SAFETY: line is valid for its length; a short or failed write only loses a record.
    unsafe { write(report, line.as_ptr() as *const c_void, line.len()) };
    let resp = SeccompNotifResp {
        id: notif.id,
        val: 0,
        error: -EPERM,
        flags: 0,
    };
    // SAFETY: resp is a valid response for this notification id.
    unsafe { ioctl(listener, IOCTL_NOTIF_SEND, &resp as *const SeccompNotifResp) };
}
