//! Compiles bpf/lockline.bpf.c with clang into OUT_DIR, or falls back to the
//! committed bpf/prebuilt/lockline.bpf.o when clang is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

const SRC: &str = "bpf/lockline.bpf.c";
const PREBUILT: &str = "bpf/prebuilt/lockline.bpf.o";

/// The clang command line, shared in spirit with tests/prebuilt.rs (which
/// must use the same flags to compare objects byte for byte).
fn clang_args(manifest: &Path, arch: &str, out: &Path) -> Vec<String> {
    vec![
        "-target".into(),
        "bpf".into(),
        "-g".into(), // BTF: aya needs it for BTF-defined maps
        "-O2".into(),
        "-Wall".into(),
        "-Werror".into(),
        format!("-I/usr/include/{arch}-linux-gnu"), // asm/types.h
        // No absolute paths in DWARF, so the object is identical from any checkout.
        format!("-fdebug-prefix-map={}=.", manifest.display()),
        "-c".into(),
        SRC.into(),
        "-o".into(),
        out.display().to_string(),
    ]
}

fn main() {
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed={PREBUILT}");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("lockline.bpf.o");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into());
    // clang without libbpf-dev's headers cannot build the source either.
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        println!("cargo:warning=libbpf-dev headers missing; using the committed {PREBUILT}");
        std::fs::copy(manifest.join(PREBUILT), &out).expect("no bpf/prebuilt/lockline.bpf.o");
        return;
    }
    let status = Command::new(&clang)
        .current_dir(&manifest)
        .args(clang_args(&manifest, &arch, &out))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{clang} failed on {SRC}: {s}"),
        Err(e) => {
            println!("cargo:warning=clang not runnable ({e}); using the committed {PREBUILT}");
            std::fs::copy(manifest.join(PREBUILT), &out)
                .expect("no clang and no bpf/prebuilt/lockline.bpf.o");
        }
    }
}
