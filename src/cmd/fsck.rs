//! `lockline fsck`: check a disk; exit 1 when it is inconsistent.

use crate::exit;
use anyhow::Result;
use lockline_engine::disk::fsck;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    path: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<u8> {
    let r = fsck(&a.path)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: generation {}, {} inodes ({} dirs), {} blocks used, {} free, {}",
            r.path.display(),
            r.generation,
            r.inodes,
            r.dirs,
            r.used_blocks,
            r.free_blocks,
            if r.clean {
                "clean unmount"
            } else {
                "not cleanly unmounted"
            }
        );
        for p in &r.problems {
            println!("  {}: {}", p.kind, p.detail);
        }
        if r.orphans > 0 {
            println!(
                "{} file(s) unlinked while open (orphans): the next mount frees them",
                r.orphans
            );
        }
        println!(
            "{}",
            if r.problems.is_empty() {
                "no problems found".to_string()
            } else {
                format!("{} problem(s) found", r.problems.len())
            }
        );
    }
    Ok(if r.problems.is_empty() {
        exit::OK
    } else {
        exit::PROBLEMS
    })
}
