//! Compiles the XDP program (bpf/eti_xdp.c) with clang into `$OUT_DIR/eti_xdp.o`,
//! which `src/loader.rs` embeds with `aya::include_bytes_aligned!`, so one
//! `cargo build` yields a binary that carries its own kernel program.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let src = "bpf/eti_xdp.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("eti_xdp.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    // Debian keeps asm/types.h under the multiarch include directory, which a
    // BPF-target clang does not search by default.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".to_string());
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    let status = Command::new(&clang)
        .args([
            "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", &multiarch, "-c", src, "-o",
        ])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{clang}` to build the XDP program ({e}); install it with: sudo apt-get install -y clang libbpf-dev"
            )
        });
    assert!(
        status.success(),
        "`{clang}` failed to compile {src} (needs the libbpf headers: sudo apt-get install -y libbpf-dev)"
    );
}
