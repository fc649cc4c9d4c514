//! The provenance checker against the stamp checker: on stamped workloads
//! both judge the same content, so every check must get the same classes
//! on the same sectors, on every build, with and without planted bugs.

mod common;

use common::{busy_knobs, disk};
use lockline_engine::config::Inject;
use lockline_engine::{Build, Knobs};
use lockline_harness::check::provenance::judge;
use lockline_harness::check::{CheckReport, Class};
use lockline_harness::rounds::{run_rounds, RoundsReport, RoundsSpec};
use lockline_harness::session::{quiet_progress, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

/// Runs `rounds` checked rounds of `ops` ops each with digests on.
fn run(
    build: Build,
    workload: WorkloadKind,
    knobs: Knobs,
    seed: u64,
    rounds: u64,
) -> (RoundsReport, Vec<lockline_engine::probe::Event>) {
    let d = disk(256 << 20);
    let run = RunSpec {
        workload,
        threads: 4,
        stop: Stop::Ops(300),
        seed,
        file: "/w.dat".into(),
        file_size: 4 << 20,
        write_size: 64 << 10,
        readers: 0,
    };
    let mut spec = SessionSpec::new(d.path.clone(), build, Knobs { seed, ..knobs }, run);
    spec.digests = true;
    let rs = RoundsSpec {
        rounds: Some(rounds),
        seconds: None,
        round_ops: 300,
    };
    let never = AtomicBool::new(false);
    run_rounds(&spec, &rs, &quiet_progress(), None, None, &never).expect("rounds")
}

/// (round, check, sector, class) of every violating sector.
fn sectors(checks: &[CheckReport]) -> BTreeSet<(u64, String, u64, Class)> {
    let mut out = BTreeSet::new();
    for c in checks {
        for v in &c.violations {
            for s in v.first_sector..v.first_sector + v.nr_sectors {
                out.insert((c.round, c.label.clone(), s, v.class));
            }
        }
    }
    out
}

/// Judges the run by its digests and asserts the two checkers agree;
/// returns the violating sectors.
fn agree(what: &str, report: &RoundsReport, events: &[lockline_engine::probe::Event]) -> usize {
    let stamped = &report.session.summary.checks;
    let judged = judge(events, &report.extents);
    assert_eq!(
        judged.checks.len(),
        stamped.len(),
        "{what}: a provenance check per stamp check"
    );
    let (a, b) = (sectors(stamped), sectors(&judged.checks));
    let only_stamps: Vec<_> = a.difference(&b).take(5).collect();
    let only_digests: Vec<_> = b.difference(&a).take(5).collect();
    assert!(
        only_stamps.is_empty() && only_digests.is_empty(),
        "{what}: stamps alone {only_stamps:?}, digests alone {only_digests:?}\nstamps: {:#?}\ndigests: {:#?}",
        stamped.iter().flat_map(|c| &c.violations).take(3).collect::<Vec<_>>(),
        judged.checks.iter().flat_map(|c| &c.violations).take(3).collect::<Vec<_>>()
    );
    a.len()
}

fn inject(name: &str, base: Knobs) -> Knobs {
    let mut inject = Inject::default();
    inject.enable(name).unwrap();
    Knobs { inject, ..base }
}

#[test]
fn clean_builds_agree_with_nothing_found() {
    for build in Build::ALL {
        for w in [WorkloadKind::Disjoint, WorkloadKind::FsxMix] {
            let knobs = match build {
                Build::Locked => busy_knobs(),
                _ => Knobs::quiet(),
            };
            let (r, ev) = run(build, w, knobs, 3, 2);
            let what = format!("{build} {w}");
            assert_eq!(agree(&what, &r, &ev), 0, "{what}");
        }
    }
}

/// Seeds until the stamp checker finds something; both must agree on
/// every run on the way, and on the one that finds it.
fn hunt_agreeing(what: &str, build: Build, w: WorkloadKind, knobs: Knobs) {
    for seed in 1..=40 {
        let (r, ev) = run(build, w, knobs.clone(), seed, 1);
        if agree(&format!("{what} seed {seed}"), &r, &ev) > 0 {
            return;
        }
    }
    panic!("{what}: nothing found in 40 runs");
}

#[test]
fn planted_bugs_and_torn_writes_agree() {
    hunt_agreeing(
        "lockless-min overlap",
        Build::LocklessMin,
        WorkloadKind::Overlap,
        Knobs {
            short_copy_rate: 0.6,
            ..Knobs::quiet()
        },
    );
    hunt_agreeing(
        "writeback-clear-after-copy",
        Build::Locked,
        WorkloadKind::Overlap,
        inject(
            "writeback-clear-after-copy",
            Knobs {
                writeback_interval_ms: 1,
                ..Knobs::quiet()
            },
        ),
    );
    hunt_agreeing(
        "migrate-without-folio-lock",
        Build::Locked,
        WorkloadKind::FsxMix,
        inject(
            "migrate-without-folio-lock",
            Knobs {
                migration_interval_us: 10,
                ..Knobs::quiet()
            },
        ),
    );
}
