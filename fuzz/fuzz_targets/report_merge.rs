//! `lockline explore --merge`: shards' JSON reports, as text (what a user
//! hands the command) or built field by field (so merging itself is
//! reached, not only the JSON parser). Parsing gives a report or an error;
//! merging gives the joined report or an error, never a panic; a merge
//! keeps its promises: counts add up, every shard once, the first
//! violation the lowest-numbered of the shards' firsts, found sorted.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lockline_harness::check::Counts;
use lockline_harness::explore::{merge, missing_shards, ExploreReport, Found, StrategyKind};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Report files' text.
    Text(Vec<String>),
    /// Reports of one exploration (template, strategy and seed shared)
    /// with their own shards and counts.
    Shards {
        template: String,
        seed: u64,
        n: u64,
        shards: Vec<Shard>,
    },
}

#[derive(Arbitrary, Debug)]
struct Shard {
    ks: Vec<u64>,
    schedules: u64,
    violating: u64,
    lost_control: u64,
    decisions: u64,
    seconds: f64,
    found: Vec<(u64, u64)>,
}

fn report(template: &str, seed: u64, n: u64, s: Shard) -> ExploreReport {
    let found: Vec<Found> = s
        .found
        .iter()
        .map(|&(index, steps)| Found {
            index,
            id: format!("id-{index}"),
            explicit: String::new(),
            steps,
            switches: 0,
            check: "after-run".into(),
            counts: Counts::default(),
            explanation: String::new(),
            at_s: 0.0,
        })
        .collect();
    ExploreReport {
        template: template.into(),
        build: "lockless-min".into(),
        workload: "overlap".into(),
        strategy: StrategyKind::Pct,
        seed,
        threads: 2,
        ops: 10,
        depth: 3,
        bound: 0,
        per_program: 8,
        shards: s.ks.iter().map(|k| format!("{k}/{n}")).collect(),
        schedules: s.schedules,
        violating: s.violating,
        lost_control: s.lost_control,
        decisions: s.decisions,
        // JSON has no NaN or infinity: a report from text never holds one.
        seconds: if s.seconds.is_finite() { s.seconds } else { 0.0 },
        schedules_per_s: 0.0,
        first: found.iter().min_by_key(|f| f.index).cloned(),
        found,
    }
}

fn check(reports: Vec<ExploreReport>) {
    let shards: usize = reports.iter().map(|r| r.shards.len()).sum();
    let schedules: u128 = reports.iter().map(|r| u128::from(r.schedules)).sum();
    let first = reports.iter().filter_map(|r| r.first.as_ref()).map(|f| f.index).min();
    let Ok(m) = merge(reports) else { return };
    assert_eq!(m.shards.len(), shards, "a shard lost or doubled");
    assert_eq!(u128::from(m.schedules), schedules, "schedules do not add up");
    assert_eq!(m.first.as_ref().map(|f| f.index), first, "not the lowest first");
    assert!(m.found.windows(2).all(|w| w[0].index <= w[1].index), "found unsorted");
    assert!(missing_shards(&m).len() <= 100);
    let text = serde_json::to_string(&m).expect("a merged report serialises");
    let _: ExploreReport = serde_json::from_str(&text).expect("and reads back");
}

fuzz_target!(|input: Input| match input {
    Input::Text(texts) => {
        let reports: Vec<ExploreReport> =
            texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect();
        check(reports);
    }
    Input::Shards { template, seed, n, shards } => {
        check(shards.into_iter().map(|s| report(&template, seed, n, s)).collect());
    }
});
