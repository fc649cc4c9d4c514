//! `lockline mkfs`: format an image or block device.

use crate::exit::{self, parse_size};
use anyhow::Result;
use lockline_engine::disk::{mkfs, MkfsOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Image file (created sparse if absent) or block device.
    path: PathBuf,
    /// Size, e.g. 256M or 1G (default: the device's size; 1G for a new image).
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Format even if the target looks in use (mounted or another filesystem).
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<u8> {
    let r = mkfs(
        &a.path,
        &MkfsOptions {
            size: a.size,
            force: a.force,
        },
    )?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "formatted {}: {} bytes, {} data blocks of {} bytes{}",
            r.path.display(),
            r.size,
            r.data_blocks,
            r.block_size,
            if r.created_image { " (new image)" } else { "" }
        );
    }
    Ok(exit::OK)
}
