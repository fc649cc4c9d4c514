//! One schedule: a fresh disk, the round's ops on worker threads, one
//! flusher pass and one folio migration as threads of their own, all run
//! one at a time by the controlled scheduler, then the three checks of a
//! checked round (after the run, after fsync, after remount).

use super::id::{ScheduleId, StrategySpec};
use super::sched::{Aborted, Outcome, Sched, Switch, SwitchAt};
use super::strategy::{Bounded, Explicit, Pct, RandomWalk, Strategy};
use crate::check::{self, CheckReport, EngineFile};
use crate::history::History;
use crate::workload::{issue, FsFile, Op, Prepare, Target, ThreadCtx};
use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::error::{Error, Result};
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::probe::points::{self, set_hook};
use lockline_engine::probe::{Event, EventKind, MmAction, ThreadRole};
use lockline_engine::writeback::{self, SyncMode};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The round's file and its size (small: a schedule is a handful of ops).
pub const FILE: &str = "/explore";
pub const FILE_SIZE: u64 = 8 << 20;
/// The scratch disk each schedule formats afresh, so block allocation
/// (and with it every event) is the same whenever the schedule runs.
pub const DISK_SIZE: u64 = 32 << 20;
/// A thread running this long without a probe point sleeps where the
/// scheduler cannot see it.
const STALL: Duration = Duration::from_secs(3);

/// One thread of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A workload thread and its ops, with each op's index in the round.
    Worker { thread: u32, ops: Vec<(usize, Op)> },
    /// One writeback pass over every dirty inode (WB_SYNC_NONE).
    Flusher,
    /// One migration of a folio the schedule's seed picks.
    Migrate,
}

impl Actor {
    pub fn name(&self) -> String {
        match self {
            Actor::Worker { thread, .. } => format!("worker {thread}"),
            Actor::Flusher => "flusher".to_string(),
            Actor::Migrate => "migrate".to_string(),
        }
    }
}

/// The round's ops in issue order: op i is worker (i mod threads)'s next,
/// drawn from the workload's pattern, so a schedule's ops depend only on
/// the workload, its seed and the thread and op counts.
pub fn plan(id: &ScheduleId) -> Vec<Actor> {
    let pattern = id.workload.pattern(FILE_SIZE, 64 << 10);
    let mut ctx: Vec<ThreadCtx> = (0..id.threads)
        .map(|t| ThreadCtx::new(id.wseed, t, id.threads))
        .collect();
    let mut per: Vec<Vec<(usize, Op)>> = vec![Vec::new(); id.threads as usize];
    for i in 0..id.ops as usize {
        let t = i % id.threads as usize;
        let op = pattern.next(&mut ctx[t]);
        ctx[t].n += 1;
        if id.kept(i) {
            per[t].push((i, op));
        }
    }
    let mut actors: Vec<Actor> = per
        .into_iter()
        .enumerate()
        .map(|(t, ops)| Actor::Worker {
            thread: t as u32,
            ops,
        })
        .collect();
    if id.flusher {
        actors.push(Actor::Flusher);
    }
    if id.migrate {
        actors.push(Actor::Migrate);
    }
    actors
}

/// The strategy an id names, for `actors` threads.
pub fn strategy(id: &ScheduleId, actors: usize) -> Result<Box<dyn Strategy>> {
    Ok(match &id.strategy {
        StrategySpec::Random { seed } => Box::new(RandomWalk::new(*seed)),
        StrategySpec::Pct {
            depth,
            horizon,
            seed,
        } => Box::new(Pct::new(*seed, actors, *depth, *horizon)),
        StrategySpec::Bounded {
            bound,
            horizon,
            index,
        } => Box::new(Bounded::new(*index, *bound, *horizon, actors).ok_or_else(|| {
            Error::Invalid(format!(
                "bounded schedule {index} is past the last one with {bound} preemptions over {horizon} steps"
            ))
        })?),
        StrategySpec::Explicit { switches } => Box::new(Explicit::new(switches.clone())),
    })
}

/// What one schedule did and what the checker found.
pub struct ScheduleRun {
    pub id: ScheduleId,
    pub actors: Vec<Actor>,
    /// Decisions made, switches away from the default, readable switches.
    pub steps: u64,
    pub switches: Vec<Switch>,
    pub readable: Vec<SwitchAt>,
    pub events: Vec<Event>,
    pub checks: Vec<CheckReport>,
    /// Why the scheduler gave up control, if it did: the run was then not
    /// a function of the schedule.
    pub lost_control: Option<String>,
}

impl ScheduleRun {
    pub fn violating(&self) -> bool {
        self.checks.iter().any(|c| !c.violations.is_empty())
    }

    /// The schedule as it ran, written down: the default policy with the
    /// switches it took.
    pub fn explicit_id(&self) -> ScheduleId {
        ScheduleId {
            strategy: StrategySpec::Explicit {
                switches: self.switches.clone(),
            },
            ..self.id.clone()
        }
    }
}

/// Runs schedule `id` on a disk image at `image` (re-created).
pub fn run_schedule(id: &ScheduleId, image: &Path) -> Result<ScheduleRun> {
    let _serial = crate::scenario::SERIAL
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    match std::fs::remove_file(image) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Invalid(format!("{}: {e}", image.display()))),
    }
    mkfs(
        image,
        &MkfsOptions {
            size: Some(DISK_SIZE),
            force: false,
        },
    )?;
    let actors = plan(id);
    let sched = Sched::new(actors.len(), strategy(id, actors.len())?);
    {
        let s = sched.clone();
        set_hook(Some(Arc::new(move |ev: &Event| s.on_event(ev))));
    }
    let r = run_on_hook(id, image, &sched, &actors);
    set_hook(None);
    let out = sched.finish();
    let checks = r?;
    let Outcome {
        steps,
        switches,
        readable,
        events,
        lost_control,
    } = out;
    Ok(ScheduleRun {
        id: id.clone(),
        actors,
        steps,
        switches,
        readable,
        events,
        checks,
        lost_control,
    })
}

fn run_on_hook(
    id: &ScheduleId,
    image: &Path,
    sched: &Arc<Sched>,
    actors: &[Actor],
) -> Result<Vec<CheckReport>> {
    let opts = MountOptions {
        build: id.build,
        knobs: id.knobs(),
        recorder: None,
    };
    let fs = Fs::mount(image, opts.clone())?;
    fs.attach_thread(ThreadRole::Main, 0);
    let file = FsFile::create(&fs, FILE, FILE_SIZE)?;
    let ino = file.ino;
    match id.workload.pattern(FILE_SIZE, 64 << 10).prepare() {
        Prepare::Empty => {}
        Prepare::Size(n) => file.truncate(n)?,
        Prepare::Preallocate(n) => file.fallocate(0, n, false)?,
    }
    points::round_begin(1, ino);
    let panicked = parking_lot::Mutex::new(None::<String>);
    std::thread::scope(|s| {
        for (i, actor) in actors.iter().enumerate() {
            let (sched, fs, file) = (sched.clone(), &fs, &file);
            let panicked = &panicked;
            s.spawn(move || {
                struct Exit(Arc<Sched>, usize);
                impl Drop for Exit {
                    fn drop(&mut self) {
                        self.0.exit(self.1);
                    }
                }
                let _exit = Exit(sched.clone(), i);
                let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sched.enter(i);
                    run_actor(actor, fs, file);
                }));
                if let Err(p) = body {
                    if !p.is::<Aborted>() {
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        panicked
                            .lock()
                            .get_or_insert_with(|| format!("{} panicked: {msg}", actor.name()));
                    }
                }
            });
        }
        sched.run(STALL);
    });
    if let Some(why) = sched.aborted().or(panicked.into_inner()) {
        return Err(Error::Schedule(format!("schedule {id}: {why}")));
    }
    let history = History::from_events(&sched.events_so_far());
    let (mut fs, mut mounted) = (fs, true);
    let mut file = EngineFile {
        fs: &mut fs,
        mounted: &mut mounted,
        disk: image,
        opts: &opts,
        ino,
        retired: None,
    };
    let mut checks = check::check_round(&mut file, &history, ino, 1, |_| {})?.checks;
    fs.unmount()?;
    let events = sched.events_so_far();
    for c in &mut checks {
        check::annotate_folios(c, &events);
    }
    Ok(checks)
}

/// What `actor` does, on its own thread, under the scheduler.
fn run_actor(actor: &Actor, fs: &Fs, file: &FsFile<'_>) {
    match actor {
        Actor::Worker { thread, ops } => {
            fs.attach_thread(ThreadRole::Worker, *thread as u64);
            let max = ops.iter().map(|(_, o)| op_len(o)).max().unwrap_or(0);
            // Page-aligned: where the source's pages begin decides where a
            // faulting copy stops, and a heap address differs from run to
            // run.
            let mut mem = vec![0u8; max as usize + 4096];
            let skew = mem.as_ptr().align_offset(4096);
            let buf = &mut mem[skew..skew + max as usize];
            for (i, op) in ops {
                super::sched::round_op(*i as u32);
                // A failed op (an injected allocation failure) is in the
                // history through its op_end; the checker judges it.
                let _ = issue(file, *op, *thread, buf, None);
            }
        }
        Actor::Flusher => {
            fs.attach_thread(ThreadRole::Flusher, 0);
            writeback::flush_all(fs, SyncMode::None);
        }
        Actor::Migrate => {
            fs.attach_thread(ThreadRole::Migrate, 0);
            let mut rng = fs.knobs.seed ^ 0x6d69_6772;
            lockline_engine::mm::migrate::migrate_random_folio(fs, &mut rng);
        }
    }
}

fn op_len(op: &Op) -> u64 {
    match *op {
        Op::Write { len, .. }
        | Op::Append { len }
        | Op::MapWrite { len, .. }
        | Op::Read { len, .. } => len,
        _ => 0,
    }
}

/// An event with everything that names a thing by a process-wide serial
/// (inode, op, folio identity) renumbered in order of first appearance,
/// and without time and thread id: what must be equal when one schedule
/// runs twice.
pub type CanonEvent = (u32, u64, u64, u64, u64, u64, u64);

pub fn canonical(events: &[Event]) -> Vec<CanonEvent> {
    use std::collections::HashMap;
    fn renumber(m: &mut HashMap<u64, u64>, v: u64, keep: &[u64]) -> u64 {
        if keep.contains(&v) {
            return v;
        }
        let n = m.len() as u64 + 1;
        *m.entry(v).or_insert(n)
    }
    let (mut inodes, mut ops, mut fids) = (HashMap::new(), HashMap::new(), HashMap::new());
    let keep = [0, lockline_engine::probe::NO_FID];
    events
        .iter()
        .map(|e| {
            let ino = renumber(&mut inodes, e.inode, &keep);
            let op = renumber(&mut ops, e.op, &keep);
            let fid = renumber(&mut fids, e.fid, &keep);
            let (mut a, mut b) = (e.a, e.b);
            match e.kind() {
                Some(EventKind::FolioMigrated) => b = renumber(&mut fids, b, &keep),
                Some(EventKind::MmAction)
                    if matches!(
                        MmAction::from_u8(e.decode().map(|c| c.class).unwrap_or(0)),
                        Some(MmAction::Migrate | MmAction::MigrateSkip)
                    ) =>
                {
                    a = renumber(&mut fids, a, &keep)
                }
                Some(EventKind::RoundBegin) => a = 0,
                _ => {}
            }
            (e.code, ino, e.folio, op, a, b, fid)
        })
        .collect()
}
