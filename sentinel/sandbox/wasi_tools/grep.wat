  ;; grep: the lines of each workspace file (or of stdin with only a pattern) that contain a
  ;; fixed string, as "PATH:LINE:TEXT" lines ("LINE:TEXT" for stdin). Each line is held whole
  ;; in linear memory, which grows for long lines: past the store's memory limit the tool
  ;; traps (the sandbox reports it as a memory_limit violation). Exit 0 when a line matched,
  ;; 1 when none did, 2 on a usage or read error (as grep does).
  (global $NAME i32 (i32.const 41984))
  (global $NAME_LEN i32 (i32.const 4))
  (data (i32.const 41984) "grep")
  (data (i32.const 41988) "usage: grep PATTERN [FILE]...")   ;; 41988, 29
  (global $matched (mut i32) (i32.const 0))
  (global $pattern (mut i32) (i32.const 0))
  (global $pattern_len (mut i32) (i32.const 0))

  ;; Whether the line [HEAP, HEAP+len) contains the pattern.
  (func $contains (param $len i32) (result i32)
    (local $start i32) (local $k i32)
    (if (i32.gt_u (global.get $pattern_len) (local.get $len)) (then (return (i32.const 0))))
    (loop $at
      (local.set $k (i32.const 0))
      (block $mismatch
        (loop $char
          (if (i32.ge_u (local.get $k) (global.get $pattern_len)) (then (return (i32.const 1))))
          (br_if $mismatch
            (i32.ne (i32.load8_u (i32.add (global.get $HEAP) (i32.add (local.get $start) (local.get $k))))
                    (i32.load8_u (i32.add (global.get $pattern) (local.get $k)))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $char)))
      (local.set $start (i32.add (local.get $start) (i32.const 1)))
      (br_if $at (i32.le_u (i32.add (local.get $start) (global.get $pattern_len)) (local.get $len))))
    (i32.const 0))

  (func $report (param $path i32) (param $line i64) (param $len i32)
    (if (i32.eqz (call $contains (local.get $len))) (then (return)))
    (global.set $matched (i32.const 1))
    (if (local.get $path)
      (then
        (call $write_cstr (i32.const 1) (local.get $path))
        (call $write_char (i32.const 1) (i32.const 58))))
    (call $write_u64 (i32.const 1) (local.get $line))
    (call $write_char (i32.const 1) (i32.const 58))
    (call $write (i32.const 1) (global.get $HEAP) (local.get $len))
    (call $newline (i32.const 1)))

  ;; Scan fd line by line; return 0, or 2 on a read error.
  (func $scan (param $fd i32) (param $path i32) (result i32)
    (local $n i32) (local $i i32) (local $c i32) (local $len i32) (local $line i64)
    (local.set $line (i64.const 1))
    (block $eof
      (loop $chunk
        (local.set $n (call $read (local.get $fd) (local.get $path)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 2))))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $c (i32.load8_u (i32.add (global.get $BUF) (local.get $i))))
          (if (i32.eq (local.get $c) (i32.const 10))
            (then
              (call $report (local.get $path) (local.get $line) (local.get $len))
              (local.set $line (i64.add (local.get $line) (i64.const 1)))
              (local.set $len (i32.const 0)))
            (else
              ;; Grow by a page when the line reaches the end of memory; past the limit, trap.
              (if (i32.ge_u (i32.add (global.get $HEAP) (local.get $len))
                            (i32.mul (memory.size) (i32.const 65536)))
                (then
                  (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (unreachable)))))
              (i32.store8 (i32.add (global.get $HEAP) (local.get $len)) (local.get $c))
              (local.set $len (i32.add (local.get $len) (i32.const 1)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (local.get $n))))
        (br $chunk)))
    (if (local.get $len) (then (call $report (local.get $path) (local.get $line) (local.get $len))))
    (i32.const 0))

  (func (export "_start")
    (local $argc i32) (local $i i32) (local $fd i32) (local $status i32)
    (local.set $argc (call $load_args))
    (if (i32.lt_u (local.get $argc) (i32.const 2))
      (then
        (call $complain (i32.const 0) (i32.const 41988) (i32.const 29))
        (call $proc_exit (i32.const 2))))
    (global.set $pattern (call $arg (i32.const 1)))
    (global.set $pattern_len (call $strlen (global.get $pattern)))
    (if (i32.eq (local.get $argc) (i32.const 2))
      (then
        (local.set $status (call $scan (i32.const 0) (i32.const 0)))
        (if (local.get $status) (then (call $proc_exit (local.get $status))))
        (call $proc_exit (i32.sub (i32.const 1) (global.get $matched)))))
    (local.set $i (i32.const 2))
    (loop $file
      (local.set $fd (call $open (call $arg (local.get $i))))
      (if (i32.lt_s (local.get $fd) (i32.const 0))
        (then (local.set $status (i32.const 2)))
        (else
          (local.set $status
            (i32.or (local.get $status) (call $scan (local.get $fd) (call $arg (local.get $i)))))
          (drop (call $fd_close (local.get $fd)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (local.get $argc))))
    (if (local.get $status) (then (call $proc_exit (local.get $status))))
    (call $proc_exit (i32.sub (i32.const 1) (global.get $matched))))
