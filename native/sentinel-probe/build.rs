//! Compile the BPF program with clang; the object is embedded in the library.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("agent_probe.bpf.o");
    // Debian keeps the UAPI's asm/ headers under the multiarch include directory.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets the target arch");
    let multiarch = match arch.as_str() {
        "aarch64" => "aarch64-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    SkeletonBuilder::new()
        .source("bpf/agent_probe.bpf.c")
        .obj(&object)
        .clang_args(["-Ibpf".to_string(), format!("-I/usr/include/{multiarch}")])
        .build()
        .expect("compiling bpf/agent_probe.bpf.c with clang (Debian: apt install clang)");
    println!("cargo:rerun-if-changed=bpf/agent_probe.bpf.c");
    println!("cargo:rerun-if-changed=bpf/probe_types.h");
}
