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
}
