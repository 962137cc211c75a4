  ;; The prelude every Sentinel WASI tool shares (WASI preview 1, hand-written text format).
  ;; A tool's file adds its $NAME/$NAME_LEN globals, its data and its exported _start; the
  ;; loader wraps prelude and tool in one (module ...).
  ;;
  ;; Linear memory (one 64 KiB page to start; only grep grows it, for long lines):
  ;;   0..8 iovec, 8..12 count, 12..16 opened fd, 16..24 argc and argv size,
  ;;   32..64 number text, 64..1088 argv pointers (256), 1088..8192 argv bytes,
  ;;   8192..40960 read buffer, 40960..41984 prelude strings, 41984..44992 tool strings,
  ;;   44992..45056 a file's status, 45056.. the heap (grep's line buffer).
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)

  (global $IOV i32 (i32.const 0))
  (global $COUNT i32 (i32.const 8))
  (global $OPENED i32 (i32.const 12))
  (global $ARGC i32 (i32.const 16))
  (global $ARGV_SIZE i32 (i32.const 20))
  (global $DIGITS_END i32 (i32.const 64))
  (global $ARGV i32 (i32.const 64))
  (global $MAX_ARGS i32 (i32.const 256))
  (global $ARGBUF i32 (i32.const 1088))
  (global $ARGBUF_MAX i32 (i32.const 7104))
  (global $BUF i32 (i32.const 8192))
  (global $BUF_SIZE i32 (i32.const 32768))
  (global $HEAP i32 (i32.const 45056))
  ;; The preopened workspace: the first descriptor after stdin, stdout and stderr.
  (global $PREOPEN i32 (i32.const 3))
  ;; WASI rights: fd_read (1 << 1).
  (global $RIGHT_FD_READ i64 (i64.const 2))
  ;; path_filestat_get's 64-byte answer (the end of the tool-string area); its filetype
  ;; byte is at offset 16, and 4 is a regular file.
  (global $STAT i32 (i32.const 44992))
  (global $FILETYPE_REGULAR i32 (i32.const 4))

  (data (i32.const 40960) ": ")                                 ;; 40960, 2
  (data (i32.const 40964) "\n")                                 ;; 40964, 1
  (data (i32.const 40968) "too many or too long arguments")    ;; 40968, 30
  (data (i32.const 41000) "permission denied")                  ;; 41000, 17
  (data (i32.const 41020) "is a directory")                     ;; 41020, 14
  (data (i32.const 41036) "symbolic link refused")              ;; 41036, 21
  (data (i32.const 41060) "no such file or directory")          ;; 41060, 25
  (data (i32.const 41088) "not a directory")                    ;; 41088, 15
  (data (i32.const 41104) "outside the workspace")              ;; 41104, 21
  (data (i32.const 41128) "error ")                             ;; 41128, 6
  (data (i32.const 41136) "0123456789abcdef")                   ;; 41136, 16
  (data (i32.const 41152) "operation not permitted")            ;; 41152, 23
  (data (i32.const 41176) "not a regular file")                 ;; 41176, 18

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; Write all of [ptr, ptr+len) to fd; give up quietly on an error (nothing to report it to).
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (block $done
      (loop $more
        (br_if $done (i32.le_s (local.get $len) (i32.const 0)))
        (i32.store (global.get $IOV) (local.get $ptr))
        (i32.store (i32.add (global.get $IOV) (i32.const 4)) (local.get $len))
        (br_if $done (call $fd_write (local.get $fd) (global.get $IOV) (i32.const 1) (global.get $COUNT)))
        (br_if $done (i32.eqz (i32.load (global.get $COUNT))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.load (global.get $COUNT))))
        (local.set $len (i32.sub (local.get $len) (i32.load (global.get $COUNT))))
        (br $more))))

  (func $write_cstr (param $fd i32) (param $p i32)
    (call $write (local.get $fd) (local.get $p) (call $strlen (local.get $p))))

  (func $write_char (param $fd i32) (param $c i32)
    (i32.store8 (i32.const 31) (local.get $c))
    (call $write (local.get $fd) (i32.const 31) (i32.const 1)))

  (func $newline (param $fd i32) (call $write (local.get $fd) (i32.const 40964) (i32.const 1)))

  ;; An unsigned decimal number.
  (func $write_u64 (param $fd i32) (param $n i64)
    (local $p i32)
    (local.set $p (global.get $DIGITS_END))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $fd) (local.get $p) (i32.sub (global.get $DIGITS_END) (local.get $p))))

  ;; Eight lower-case hexadecimal digits.
  (func $write_hex32 (param $fd i32) (param $v i32)
    (local $i i32)
    (loop $digit
      (i32.store8 (i32.add (i32.const 32) (local.get $i))
        (i32.load8_u (i32.add (i32.const 41136)
          (i32.and (i32.shr_u (local.get $v) (i32.sub (i32.const 28) (i32.mul (local.get $i) (i32.const 4))))
                   (i32.const 15)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digit (i32.lt_u (local.get $i) (i32.const 8))))
    (call $write (local.get $fd) (i32.const 32) (i32.const 8)))

  ;; "<tool>: <what>: <reason>\n" on stderr.
  (func $complain (param $what i32) (param $reason i32) (param $reason_len i32)
    (call $write (i32.const 2) (global.get $NAME) (global.get $NAME_LEN))
    (call $write (i32.const 2) (i32.const 40960) (i32.const 2))
    (if (local.get $what)
      (then
        (call $write_cstr (i32.const 2) (local.get $what))
        (call $write (i32.const 2) (i32.const 40960) (i32.const 2))))
    (call $write (i32.const 2) (local.get $reason) (local.get $reason_len))
    (call $newline (i32.const 2)))

  ;; A WASI errno as words (the ones a file tool meets), else "error N".
  (func $complain_errno (param $what i32) (param $errno i32)
    (if (i32.eq (local.get $errno) (i32.const 2))
      (then (call $complain (local.get $what) (i32.const 41000) (i32.const 17)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 31))
      (then (call $complain (local.get $what) (i32.const 41020) (i32.const 14)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 32))
      (then (call $complain (local.get $what) (i32.const 41036) (i32.const 21)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 44))
      (then (call $complain (local.get $what) (i32.const 41060) (i32.const 25)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 54))
      (then (call $complain (local.get $what) (i32.const 41088) (i32.const 15)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 63))
      (then (call $complain (local.get $what) (i32.const 41152) (i32.const 23)) (return)))
    (if (i32.eq (local.get $errno) (i32.const 76))
      (then (call $complain (local.get $what) (i32.const 41104) (i32.const 21)) (return)))
    (call $write (i32.const 2) (global.get $NAME) (global.get $NAME_LEN))
    (call $write (i32.const 2) (i32.const 40960) (i32.const 2))
    (call $write_cstr (i32.const 2) (local.get $what))
    (call $write (i32.const 2) (i32.const 40960) (i32.const 2))
    (call $write (i32.const 2) (i32.const 41128) (i32.const 6))
    (call $write_u64 (i32.const 2) (i64.extend_i32_u (local.get $errno)))
    (call $newline (i32.const 2)))

  ;; Load the arguments; return argc (the program name included). Exit 2 when they do not fit.
  (func $load_args (result i32)
    (if (call $args_sizes_get (global.get $ARGC) (global.get $ARGV_SIZE))
      (then (call $proc_exit (i32.const 2))))
    (if (i32.or (i32.gt_u (i32.load (global.get $ARGC)) (global.get $MAX_ARGS))
                (i32.gt_u (i32.load (global.get $ARGV_SIZE)) (global.get $ARGBUF_MAX)))
      (then
        (call $complain (i32.const 0) (i32.const 40968) (i32.const 30))
        (call $proc_exit (i32.const 2))))
    (if (call $args_get (global.get $ARGV) (global.get $ARGBUF))
      (then (call $proc_exit (i32.const 2))))
    (i32.load (global.get $ARGC)))

  (func $arg (param $i i32) (result i32)
    (i32.load (i32.add (global.get $ARGV) (i32.mul (local.get $i) (i32.const 4)))))

  ;; Open a workspace file for reading, relative to the preopen (leading slashes dropped);
  ;; symbolic links are not followed, and only regular files are opened (a FIFO the agent
  ;; planted would block the open until someone writes to it). Return the fd, or -1 after
  ;; saying why on stderr.
  (func $open (param $path i32) (result i32)
    (local $p i32) (local $errno i32)
    (local.set $p (local.get $path))
    (block $done
      (loop $slash
        (br_if $done (i32.ne (i32.load8_u (local.get $p)) (i32.const 47)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $slash)))
    (if (i32.eqz (i32.load8_u (local.get $p)))
      (then (call $complain_errno (local.get $path) (i32.const 31)) (return (i32.const -1))))
    (local.set $errno
      (call $path_filestat_get (global.get $PREOPEN) (i32.const 0) (local.get $p)
        (call $strlen (local.get $p)) (global.get $STAT)))
    (if (local.get $errno)
      (then (call $complain_errno (local.get $path) (local.get $errno)) (return (i32.const -1))))
    (if (i32.ne (i32.load8_u (i32.add (global.get $STAT) (i32.const 16))) (global.get $FILETYPE_REGULAR))
      (then (call $complain (local.get $path) (i32.const 41176) (i32.const 18)) (return (i32.const -1))))
    (local.set $errno
      (call $path_open (global.get $PREOPEN) (i32.const 0) (local.get $p) (call $strlen (local.get $p))
        (i32.const 0) (global.get $RIGHT_FD_READ) (i64.const 0) (i32.const 0) (global.get $OPENED)))
    (if (local.get $errno)
      (then (call $complain_errno (local.get $path) (local.get $errno)) (return (i32.const -1))))
    (i32.load (global.get $OPENED)))

  ;; Read the next chunk of fd into the read buffer: bytes read (0 at the end), -1 on error.
  (func $read (param $fd i32) (param $path i32) (result i32)
    (local $errno i32)
    (i32.store (global.get $IOV) (global.get $BUF))
    (i32.store (i32.add (global.get $IOV) (i32.const 4)) (global.get $BUF_SIZE))
    (local.set $errno (call $fd_read (local.get $fd) (global.get $IOV) (i32.const 1) (global.get $COUNT)))
    (if (local.get $errno)
      (then (call $complain_errno (local.get $path) (local.get $errno)) (return (i32.const -1))))
    (i32.load (global.get $COUNT)))
