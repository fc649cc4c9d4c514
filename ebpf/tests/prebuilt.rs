//! The committed bpf/prebuilt/lockline.bpf.o (used when clang is missing)
//! must be exactly what clang builds from bpf/lockline.bpf.c today.

use std::path::Path;
use std::process::Command;

#[test]
fn prebuilt_object_matches_source() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        eprintln!("note: prebuilt check skipped: libbpf-dev headers missing");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let fresh = out.path().join("lockline.bpf.o");
    // Same flags as build.rs.
    let status = Command::new(std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into()))
        .current_dir(manifest)
        .args(["-target", "bpf", "-g", "-O2", "-Wall", "-Werror"])
        .arg(format!(
            "-I/usr/include/{}-linux-gnu",
            std::env::consts::ARCH
        ))
        .arg(format!("-fdebug-prefix-map={}=.", manifest.display()))
        .args(["-c", "bpf/lockline.bpf.c", "-o"])
        .arg(&fresh)
        .status();
    match status {
        Err(e) => {
            eprintln!("note: prebuilt check skipped: clang not runnable ({e})");
            return;
        }
        Ok(s) => assert!(s.success(), "clang failed: {s}"),
    }
    let committed = std::fs::read(manifest.join("bpf/prebuilt/lockline.bpf.o")).unwrap();
    let fresh = std::fs::read(&fresh).unwrap();
    assert!(
        committed == fresh,
        "bpf/prebuilt/lockline.bpf.o is stale: rebuild it (cp target/*/build/lockline-ebpf-*/out/lockline.bpf.o ebpf/bpf/prebuilt/)"
    );
}
