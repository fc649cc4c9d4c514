//! fsx as the client: fsx-rs (crate `fsx`, the Rust port of xfstests'
//! fsx) with its default op mix — pread/pwrite, mapread/mapwrite through a
//! shared mapping, truncate — plus punch hole, posix_fallocate and fsync,
//! one file and one fsx process per seed, `threads` seeds at a time. fsx
//! checks every read against its own image of the file. Every seed also
//! runs on tmpfs: a seed that fails there too is fsx's failure, not the
//! engine's, and the tmpfs file is the reference the mount's file must
//! equal after a remount (fsx's sequence is a pure function of its seed).

use super::{Session, Via};
use anyhow::{Context, Result};
use lockline_harness::client_output::fsx::{first_difference, FsxRun};
use lockline_harness::client_output::Verdict;
use std::path::{Path, PathBuf};
use std::process::Command;

/// fsx's defaults, and the engine's other entry points turned on.
const CONFIG: &str = "\
[weights]
punch_hole = 1
posix_fallocate = 1
fsync = 1
fdatasync = 1
";

/// fsx of `seed` on `file`, started by `cmd` (the engine's session for
/// the engine's file, a plain Command for tmpfs).
fn fsx(
    mut cmd: Command,
    config: &Path,
    file: &Path,
    artifacts: &Path,
    seed: u64,
    ops: u64,
) -> Result<FsxRun> {
    std::fs::create_dir_all(artifacts)?;
    let o = cmd
        .arg("-f")
        .arg(config)
        .arg("-P")
        .arg(artifacts)
        .args(["-N", &ops.to_string(), "-S", &seed.to_string()])
        .arg(file)
        .output()
        .context("cannot run fsx")?;
    let output =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    Ok(FsxRun::judge(o.status.success(), output))
}

/// One seed's fate on the mount and on tmpfs.
struct Seed {
    seed: u64,
    mount: FsxRun,
    tmpfs: FsxRun,
}

/// Where failing seeds' logs are kept: outside the scratch directory, which
/// goes with the run.
fn log_dir() -> PathBuf {
    std::env::temp_dir().join(format!("lockline-fsx-{}", std::process::id()))
}

fn keep_log(dir: &Path, s: &Seed, ops: u64, config_toml: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("seed-{}.log", s.seed));
    let text = format!(
        "fsx -f fsx.toml -N {ops} -S {seed} on the lockline mount, with this fsx.toml:\n\
         {config_toml}\n{}\n\nthe same seed on tmpfs:\n{}",
        s.mount.output,
        s.tmpfs.output,
        seed = s.seed,
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs seeds 1..=`seeds` of `ops` ops each, `threads` at a time, with fsx's
/// config `config_toml` (None: [`CONFIG`]).
pub fn run(
    s: &mut Session,
    threads: u32,
    seeds: u64,
    ops: u64,
    config_toml: Option<&str>,
) -> Result<(Vec<Verdict>, usize)> {
    let scratch = tempfile::Builder::new()
        .prefix("lockline-fsx-")
        .tempdir_in(shm())
        .context("creating a tmpfs scratch directory")?;
    let default = match s.via() {
        Via::Mount => CONFIG.to_string(),
        // The engine's mappings are its own: a program's mmap of a routed
        // file fails with ENODEV, so fsx's map ops are off.
        Via::Exec => format!("{CONFIG}mapread = 0\nmapwrite = 0\n"),
    };
    let config_toml = config_toml.unwrap_or(&default);
    let config = scratch.path().join("fsx.toml");
    std::fs::write(&config, config_toml)?;
    let art = scratch.path().join("artifacts");
    // One op on tmpfs first: a config fsx rejects would otherwise fail every
    // seed on both sides and pass as fsx's own failures.
    let probe = fsx(
        Command::new("fsx"),
        &config,
        &scratch.path().join("probe"),
        &art,
        1,
        1,
    )?;
    if !probe.ok {
        anyhow::bail!(
            "fsx does not run with this config: {}",
            probe.failure.unwrap_or_default()
        );
    }
    let list: Vec<u64> = (1..=seeds).collect();
    let mut done: Vec<Seed> = Vec::new();
    for chunk in list.chunks(s.parallel(threads) as usize) {
        let runs: Vec<Result<Seed>> = std::thread::scope(|sc| {
            let hs: Vec<_> = chunk
                .iter()
                .map(|&seed| {
                    let (config, art, scratch) = (&config, &art, scratch.path());
                    let on_mount = s.path(&format!("fsx.{seed}"));
                    let engine_fsx = s.command("fsx");
                    sc.spawn(move || -> Result<Seed> {
                        let mount =
                            fsx(engine_fsx, config, &on_mount, &art.join("mount"), seed, ops)?;
                        let reference = scratch.join(format!("fsx.{seed}"));
                        let tmpfs = fsx(
                            Command::new("fsx"),
                            config,
                            &reference,
                            &art.join("tmpfs"),
                            seed,
                            ops,
                        )?;
                        Ok(Seed { seed, mount, tmpfs })
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("fsx thread panicked"))
                .collect()
        });
        for r in runs {
            done.push(r?);
        }
    }

    let logs = log_dir();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for sd in done.iter().filter(|sd| !sd.mount.ok) {
        let log = keep_log(&logs, sd, ops, config_toml)?;
        let what = format!(
            "seed {}: {} (log: {})",
            sd.seed,
            sd.mount.failure.as_deref().unwrap_or(""),
            log.display()
        );
        if sd.tmpfs.ok {
            ours.push(what);
        } else {
            theirs.push(what);
        }
    }
    let mut out = vec![Verdict {
        check: "after-run".into(),
        what: format!(
            "fsx seeds of {ops} ops ({} also failing on tmpfs: fsx's own)",
            theirs.len()
        ),
        checked: seeds,
        failed: ours.len() as u64,
        first_failure: ours.first().or(theirs.first()).cloned(),
    }];

    // After a remount each file must equal the tmpfs run's, where both
    // runs completed.
    let fsck = s.remount()?;
    let mut compared = 0;
    let mut differ = Vec::new();
    for sd in done.iter().filter(|sd| sd.mount.ok && sd.tmpfs.ok) {
        compared += 1;
        let reference = scratch.path().join(format!("fsx.{}", sd.seed));
        let ours = s.read(&format!("fsx.{}", sd.seed))?;
        if let Some(at) = first_difference(&ours, &std::fs::read(&reference)?) {
            differ.push(format!(
                "seed {}: differs from the tmpfs run at byte {at}",
                sd.seed
            ));
        }
    }
    out.push(Verdict {
        check: "after-remount".into(),
        what: "fsx files equal to the tmpfs run's".into(),
        checked: compared,
        failed: differ.len() as u64,
        first_failure: differ.first().cloned(),
    });
    Ok((out, fsck))
}

/// A tmpfs directory for the reference runs.
fn shm() -> PathBuf {
    let p = PathBuf::from("/dev/shm");
    if p.is_dir() {
        p
    } else {
        std::env::temp_dir()
    }
}
