  ;; crc32: the CRC-32 (ISO-HDLC, as zlib and PNG compute it) and size of each workspace file
  ;; (or of stdin without arguments), as "CRC BYTES PATH" lines with the CRC in eight hex digits.
  ;; Exit 0, or 2 when a file could not be read (the others are still summed).
  (global $NAME i32 (i32.const 41984))
  (global $NAME_LEN i32 (i32.const 5))
  (data (i32.const 41984) "crc32")
  ;; The reflected polynomial of CRC-32 (ISO 3309 / ITU-T V.42).
  (global $POLY i32 (i32.const 0xEDB88320))

  (func $sum (param $fd i32) (param $path i32) (result i32)
    (local $n i32) (local $i i32) (local $k i32) (local $crc i32) (local $bytes i64)
    (local.set $crc (i32.const -1))
    (block $eof
      (loop $chunk
        (local.set $n (call $read (local.get $fd) (local.get $path)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 2))))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $n))))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $crc (i32.xor (local.get $crc)
            (i32.load8_u (i32.add (global.get $BUF) (local.get $i)))))
          (local.set $k (i32.const 0))
          (loop $bit
            (local.set $crc
              (i32.xor (i32.shr_u (local.get $crc) (i32.const 1))
                (i32.and (global.get $POLY) (i32.sub (i32.const 0) (i32.and (local.get $crc) (i32.const 1))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $bit (i32.lt_u (local.get $k) (i32.const 8))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (local.get $n))))
        (br $chunk)))
    (call $write_hex32 (i32.const 1) (i32.xor (local.get $crc) (i32.const -1)))
    (call $write_char (i32.const 1) (i32.const 32))
    (call $write_u64 (i32.const 1) (local.get $bytes))
    (if (local.get $path)
      (then
        (call $write_char (i32.const 1) (i32.const 32))
        (call $write_cstr (i32.const 1) (local.get $path))))
    (call $newline (i32.const 1))
    (i32.const 0))

  (func (export "_start")
    (local $argc i32) (local $i i32) (local $fd i32) (local $status i32)
    (local.set $argc (call $load_args))
    (if (i32.le_u (local.get $argc) (i32.const 1))
      (then (call $proc_exit (call $sum (i32.const 0) (i32.const 0)))))
    (local.set $i (i32.const 1))
    (loop $file
      (local.set $fd (call $open (call $arg (local.get $i))))
      (if (i32.lt_s (local.get $fd) (i32.const 0))
        (then (local.set $status (i32.const 2)))
        (else
          (local.set $status
            (i32.or (local.get $status) (call $sum (local.get $fd) (call $arg (local.get $i)))))
          (drop (call $fd_close (local.get $fd)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (local.get $argc))))
    (call $proc_exit (local.get $status)))
