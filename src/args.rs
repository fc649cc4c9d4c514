//! The argument groups commands share, each defined once: the engine's
//! knobs (with the planted bugs), the workload, and the checked rounds.
//! Sweep sets a knob by the name run takes it as, through the same clap
//! definitions, so there is one knob table.

use crate::exit::{parse_size, usage};
use anyhow::Result;
use clap::{Args, Command, FromArgMatches};
use lockline_engine::config::{Inject, MigrateMode, SourceFaultMode, SourceFaults};
use lockline_engine::Knobs;
use lockline_harness::rounds::{RoundsSpec, DEFAULT_ROUND_OPS};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};

/// The engine's "kernel config" knobs, as run, compare, sweep, mount and
/// client take them.
#[derive(clap::Args, Clone, Debug)]
pub struct KnobArgs {
    /// Allow large folios (on|off).
    // Set, not clap's flag default for a bool: the value is on or off.
    #[arg(long, default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub large_folios: bool,
    /// Largest folio order (0 = 4 KiB pages, 4 = 64 KiB, max 9).
    #[arg(long, default_value_t = 4)]
    pub max_folio_order: u8,
    /// Flusher period in ms (0 = write back only on fsync/unmount).
    #[arg(long, default_value_t = 100)]
    pub writeback_ms: u64,
    /// Page-cache size above which clean folios are reclaimed (0 = off).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub reclaim: u64,
    /// Migrate a random folio every N µs (0 = off; CONFIG_MIGRATION).
    #[arg(long, default_value_t = 0)]
    pub migration_us: u64,
    /// Compact one inode's folios every N ms (0 = off; CONFIG_COMPACTION).
    #[arg(long, default_value_t = 0)]
    pub compaction_ms: u64,
    /// How migration and compaction migrate: async (trylock, skip
    /// writeback), sync-light (sleep on the folio lock) or sync (also wait
    /// for writeback).
    #[arg(long, default_value = "async", value_parser = |s: &str| s.parse::<MigrateMode>())]
    pub migrate_mode: MigrateMode,
    /// Probability that the fault-disabled user copy stops short (0..0.9).
    #[arg(long, default_value_t = 0.0)]
    pub short_copy_rate: f64,
    /// iovec segments per write, as QEMU's pwritev of guest memory
    /// (1..64; 1 = one buffer).
    #[arg(long, default_value_t = 1)]
    pub iov_segments: u32,
    /// Probability that a source page is unmapped again between a write
    /// pass's fault-in and its atomic copy (0..0.9; per page when
    /// scattered, per pass when migrating).
    #[arg(long, default_value_t = 0.0)]
    pub source_fault_rate: f64,
    /// Which source pages go: scattered (each page alone: reclaim) or
    /// migrating (a run of pages: compaction or migration of the caller's
    /// memory).
    #[arg(long, default_value = "scattered", value_parser = |s: &str| s.parse::<SourceFaultMode>())]
    pub source_fault_mode: SourceFaultMode,
    /// Probability that a write's folio allocation fails at every order
    /// (0..0.5; fail_page_alloc, memory or memcg pressure).
    #[arg(long, default_value_t = 0.0)]
    pub alloc_fail_rate: f64,
    /// Probability that each large-order folio allocation falls back one
    /// order (0..1; fragmentation).
    #[arg(long, default_value_t = 0.0)]
    pub fragmentation: f64,
    /// Probability that the write path's single-folio read fails with EIO
    /// (0..0.5).
    #[arg(long, default_value_t = 0.0)]
    pub read_error_rate: f64,
    #[command(flatten)]
    pub inject: InjectArgs,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not on or off")),
    }
}

impl KnobArgs {
    pub fn knobs(&self, seed: u64) -> Result<Knobs> {
        let inject = self.inject.inject()?;
        let k = Knobs {
            large_folios: self.large_folios,
            max_folio_order: self.max_folio_order,
            writeback_interval_ms: self.writeback_ms,
            reclaim_limit_bytes: self.reclaim,
            migration_interval_us: self.migration_us,
            compaction_interval_ms: self.compaction_ms,
            migrate_mode: self.migrate_mode,
            short_copy_rate: self.short_copy_rate,
            iov_segments: self.iov_segments,
            source_faults: SourceFaults {
                rate: self.source_fault_rate,
                mode: self.source_fault_mode,
            },
            alloc_fail_rate: self.alloc_fail_rate,
            fragmentation: self.fragmentation,
            read_error_rate: self.read_error_rate,
            seed,
            inject,
        };
        k.validate().map_err(usage)?;
        Ok(k)
    }
}

/// The workload options `run` and `kernel` share.
#[derive(clap::Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// overlap, qemu-snapshot, append-mix, claim-mix, truncate-mix, disjoint
    /// or fsx-mix.
    #[arg(long, value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub workload: WorkloadKind,
    #[arg(long, default_value_t = 4)]
    pub threads: u32,
    /// Run for this long (default 5 s unless --ops is given; `run`: rounds
    /// until this long has passed).
    #[arg(long, conflicts_with = "ops", allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Run this many ops in total (`run`: in rounds of --round-ops).
    #[arg(long)]
    pub ops: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the workload's file.
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    pub file_size: u64,
    /// Write size of the disjoint workload.
    #[arg(long, default_value = "64K", value_parser = parse_size)]
    pub write_size: u64,
    /// Verifying readers beside the writers: each read is checked against
    /// the history as it stood during the read (stale or dropped reads are
    /// findings even when a later write erases the evidence).
    #[arg(long, default_value_t = 0)]
    pub readers: u32,
}

impl WorkloadArgs {
    /// The run these options describe (not yet validated).
    pub fn spec(&self) -> RunSpec {
        let stop = match (self.seconds, self.ops) {
            (_, Some(n)) => Stop::Ops(n),
            (Some(s), None) => Stop::Seconds(s),
            (None, None) => Stop::Seconds(5.0),
        };
        RunSpec {
            workload: self.workload,
            threads: self.threads,
            stop,
            seed: self.seed,
            file: format!("/{}.dat", self.workload.name()),
            file_size: self.file_size,
            write_size: self.write_size,
            readers: self.readers,
        }
    }
}

impl KnobArgs {
    /// Sets the knob run takes as `--NAME VALUE`, parsed exactly as run
    /// parses it; the other knobs keep their values.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        // Without defaults only the one knob given is in the matches, and
        // update_from_arg_matches touches only what the matches hold.
        let cmd = KnobArgs::augment_args(Command::new("knob").no_binary_name(true))
            .mut_args(|a| a.default_value(None::<&str>));
        let known = cmd.get_arguments().any(|a| a.get_long() == Some(name));
        if !known || name == "inject" {
            let names: Vec<&str> = cmd
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|n| *n != "inject")
                .collect();
            return Err(format!("unknown knob '{name}' ({})", names.join(", ")));
        }
        let m = cmd
            .try_get_matches_from([format!("--{name}"), value.to_string()])
            .map_err(|e| one_line(&e.to_string()))?;
        self.update_from_arg_matches(&m)
            .map_err(|e| one_line(&e.to_string()))
    }
}

/// clap's first error line, without its "error: " prefix.
fn one_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or(s);
    l.strip_prefix("error: ").unwrap_or(l).to_string()
}

/// `--inject BUG`, repeatable: the planted bugs.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct InjectArgs {
    /// Plant a known bug (test-only): writeback-clear-after-copy,
    /// migrate-without-folio-lock, isize-before-copy, cut-to-recorded-size.
    /// Repeatable.
    #[arg(long = "inject", value_name = "BUG")]
    pub inject: Vec<String>,
}

impl InjectArgs {
    pub fn inject(&self) -> Result<Inject> {
        let mut inject = Inject::default();
        for name in &self.inject {
            inject.enable(name).map_err(usage)?;
        }
        Ok(inject)
    }
}

/// `--rounds` and `--round-ops`, as run and compare take them.
#[derive(clap::Args, Clone, Debug)]
pub struct RoundArgs {
    /// Run exactly this many checked rounds (instead of --seconds or --ops).
    #[arg(long, conflicts_with_all = ["seconds", "ops"])]
    pub rounds: Option<u64>,
    /// Ops per round (--rounds 1 --round-ops 100000: one long run).
    #[arg(long, default_value_t = DEFAULT_ROUND_OPS)]
    pub round_ops: u64,
}

/// What rounds run when neither --rounds, --seconds nor --ops says.
pub enum Unsaid {
    Seconds(f64),
    Rounds(u64),
}

impl RoundArgs {
    /// The rounds these options and `work`'s stop describe, validated:
    /// --rounds N exactly N; --seconds S rounds until S seconds; --ops N
    /// N ops in all (the session's stop); none of them, `unsaid`.
    pub fn spec(&self, work: &WorkloadArgs, unsaid: Unsaid) -> Result<RoundsSpec> {
        let (rounds, seconds) = match (self.rounds, work.seconds, work.ops) {
            (Some(n), _, _) => (Some(n), None),
            (None, Some(s), _) => (None, Some(s)),
            (None, None, Some(_)) => (None, None),
            (None, None, None) => match unsaid {
                Unsaid::Seconds(s) => (None, Some(s)),
                Unsaid::Rounds(n) => (Some(n), None),
            },
        };
        let spec = RoundsSpec {
            rounds,
            seconds,
            round_ops: self.round_ops,
        };
        spec.validate().map_err(|e| usage(e.to_string()))?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Knobbed {
        #[command(flatten)]
        knobs: KnobArgs,
    }

    fn parsed(args: &[&str]) -> KnobArgs {
        Knobbed::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .knobs
    }

    #[test]
    fn a_knob_set_by_name_parses_as_run_takes_it_and_leaves_the_rest() {
        let mut k = parsed(&["--writeback-ms", "7", "--inject", "isize-before-copy"]);
        k.set("large-folios", "off").unwrap();
        k.set("reclaim", "4M").unwrap();
        k.set("short-copy-rate", "0.05").unwrap();
        k.set("migration-us", "50").unwrap();
        k.set("migrate-mode", "sync").unwrap();
        let knobs = k.knobs(3).unwrap();
        assert!(!knobs.large_folios);
        assert_eq!(knobs.reclaim_limit_bytes, 4 << 20);
        assert_eq!(knobs.short_copy_rate, 0.05);
        assert_eq!(knobs.migration_interval_us, 50);
        assert_eq!(knobs.migrate_mode, MigrateMode::Sync);
        // Untouched: what the command line said, and the defaults.
        assert_eq!(knobs.writeback_interval_ms, 7);
        assert_eq!(knobs.inject.enabled(), vec!["isize-before-copy"]);
        assert_eq!(knobs.max_folio_order, 4);
        assert_eq!(knobs.seed, 3);
        // The same as run's parse of the same flags.
        let run = parsed(&[
            "--writeback-ms",
            "7",
            "--inject",
            "isize-before-copy",
            "--large-folios",
            "off",
            "--reclaim",
            "4M",
            "--short-copy-rate",
            "0.05",
            "--migration-us",
            "50",
            "--migrate-mode",
            "sync",
        ]);
        assert_eq!(
            serde_json::to_string(&run.knobs(3).unwrap()).unwrap(),
            serde_json::to_string(&knobs).unwrap()
        );
    }

    #[test]
    fn a_bad_knob_is_one_line() {
        let mut k = parsed(&[]);
        let e = k.set("colour", "red").unwrap_err();
        assert!(
            e.starts_with("unknown knob 'colour' (large-folios, "),
            "{e}"
        );
        assert!(k
            .set("inject", "isize-before-copy")
            .unwrap_err()
            .contains("unknown knob"));
        let e = k.set("large-folios", "maybe").unwrap_err();
        assert!(e.contains("maybe") && !e.contains('\n'), "{e}");
        let e = k.set("reclaim", "lots").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }
}
