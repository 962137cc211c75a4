//! Records how this extension was built so that `sentinel._native.build_info()` can tell a
//! user (and a bug report) exactly which compiler, profile and features produced it.

use std::env;
use std::process::Command;

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SENTINEL_RUSTC_VERSION={version}");

    let profile = env::var("PROFILE").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=SENTINEL_BUILD_PROFILE={profile}");

    let mut features: Vec<String> = env::vars()
        .filter_map(|(key, _)| {
            key.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    println!(
        "cargo:rustc-env=SENTINEL_BUILD_FEATURES={}",
        features.join(",")
    );

    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=SENTINEL_BUILD_TARGET={target}");
    println!("cargo:rerun-if-env-changed=RUSTC");
    build_shim(&rustc, &target);
}

/// Compiles the in-sandbox Landlock shim (a dependency-free program) with the same rustc,
/// so the extension can carry it (`sentinel._native.shim_executable()`).
fn build_shim(rustc: &str, target: &str) {
    let out_dir = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let output = format!("{out_dir}/sentinel-shim");
    println!("cargo:rerun-if-changed=shim/sentinel_shim.rs");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "--target",
            target,
            "shim/sentinel_shim.rs",
            "-o",
            &output,
        ])
        .status()
        .expect("rustc runs");
    assert!(status.success(), "compiling shim/sentinel_shim.rs failed");
}
