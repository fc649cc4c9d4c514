//! The eBPF tracer: loads lockline.bpf.o with aya, attaches the engine
//! uprobe to every probe symbol and (optionally) the kernel tracepoints,
//! and collects the ring buffer into `Event`s until stopped.

use crate::error::{chain, is_permission, load_error};
use crate::filters::KernelFilters;
use crate::object::*;
use crate::reader::Reader;
use crate::tracefs::{ensure_tracefs, has_tracepoint};
use crate::EbpfError;
use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::uprobe::{UProbeError, UProbeScope};
use aya::programs::ProgramError;
use aya::programs::{TracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};
use lockline_engine::probe::points::SYMBOLS;
use lockline_engine::probe::Event;
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::path::PathBuf;

/// Whose engine probe symbols to trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineTarget {
    /// Only this process (None: every process running `binary`).
    pub pid: Option<i32>,
    /// The executable (or shared object) holding the `lockline_*` symbols.
    pub binary: PathBuf,
}

impl EngineTarget {
    /// The calling process and its own executable.
    pub fn this_process() -> Result<EngineTarget, EbpfError> {
        let binary = std::env::current_exe()
            .map_err(|e| EbpfError::Binary(PathBuf::from("/proc/self/exe"), e.to_string()))?;
        Ok(EngineTarget {
            pid: Some(std::process::id() as i32),
            binary,
        })
    }
}

/// Which program runs on the engine probe symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineProgram {
    /// `engine_probe`: one Event per hit.
    Record,
    /// `empty_probe`: returns at once; measures the uprobe floor.
    Empty,
}

/// Loader settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracerOptions {
    /// Size of the event rings together, in bytes (a power of two, at
    /// least one page per ring); each of the MAP_EVENTS rings gets a share.
    pub ring_bytes: u32,
    /// Keep the events (false: only count them, for throughput runs).
    pub keep_events: bool,
}

impl Default for TracerOptions {
    fn default() -> Self {
        TracerOptions {
            ring_bytes: DEFAULT_RING_BYTES,
            keep_events: true,
        }
    }
}

/// Totals of one tracing session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TraceStats {
    /// Events drained from the ring.
    pub events: u64,
    /// Events lost because the ring was full (DROPS, all CPUs).
    pub lost: u64,
    /// Attachments made (probe symbols + tracepoints).
    pub attached: usize,
    /// One line per facility skipped (missing tracepoint, no kprobes, ...).
    pub skipped_notes: Vec<String>,
}

pub struct EbpfTracer {
    bpf: Ebpf,
    reader: Reader,
    drops: PerCpuArray<MapData, u64>,
    loaded: HashSet<&'static str>,
    attached: usize,
    notes: Vec<String>,
}

impl EbpfTracer {
    /// Loads the object and starts the ring reader; attaches nothing yet.
    pub fn new(opts: TracerOptions) -> Result<EbpfTracer, EbpfError> {
        let page = page_size();
        let per_ring = opts.ring_bytes / MAP_EVENTS.len() as u32;
        if !opts.ring_bytes.is_power_of_two() || per_ring < page || !per_ring.is_multiple_of(page) {
            return Err(EbpfError::RingSize(opts.ring_bytes));
        }
        let mut loader = EbpfLoader::new();
        for ring in MAP_EVENTS {
            loader.map_max_entries(ring, per_ring);
        }
        let mut bpf = loader.load(OBJECT).map_err(|e| load_error(&e))?;
        // Map fds are baked into the programs at load time, so the maps can
        // be moved out: the reader owns the ring, we keep the drop counts.
        let rings = MAP_EVENTS
            .iter()
            .map(|name| RingBuf::try_from(take(&mut bpf, name)?).map_err(|e| load_error(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        let drops =
            PerCpuArray::try_from(take(&mut bpf, MAP_DROPS)?).map_err(|e| load_error(&e))?;
        let reader = Reader::spawn(rings, opts.keep_events)?;
        Ok(EbpfTracer {
            bpf,
            reader,
            drops,
            loaded: HashSet::new(),
            attached: 0,
            notes: Vec::new(),
        })
    }

    /// Traces every engine probe symbol of `target` with the default options.
    pub fn attach_engine(target: EngineTarget) -> Result<EbpfTracer, EbpfError> {
        let mut t = EbpfTracer::new(TracerOptions::default())?;
        t.add_engine(&target, EngineProgram::Record)?;
        Ok(t)
    }

    /// Traces the kernel tracepoints with the default options.
    pub fn attach_kernel(filters: KernelFilters) -> Result<EbpfTracer, EbpfError> {
        let mut t = EbpfTracer::new(TracerOptions::default())?;
        t.add_kernel(&filters)?;
        Ok(t)
    }

    /// Attaches `program` to every symbol of `SYMBOLS` present in the binary
    /// (absent ones are noted); returns how many. Errors when none is.
    pub fn add_engine(
        &mut self,
        target: &EngineTarget,
        program: EngineProgram,
    ) -> Result<usize, EbpfError> {
        std::fs::metadata(&target.binary)
            .map_err(|e| EbpfError::Binary(target.binary.clone(), e.to_string()))?;
        let name = match program {
            EngineProgram::Record => ENGINE_PROBE,
            EngineProgram::Empty => EMPTY_PROBE,
        };
        let scope = match target.pid.and_then(|p| NonZeroU32::new(p as u32)) {
            Some(pid) => UProbeScope::OneProcess(pid),
            None => UProbeScope::AllProcesses,
        };
        let prog: &mut UProbe = self.program(name)?;
        let (mut n, mut absent) = (0, Vec::new());
        for (_, sym) in SYMBOLS {
            match prog.attach(*sym, &target.binary, scope_copy(&scope)) {
                Ok(_) => n += 1,
                // The linker drops probe symbols a binary never calls (a
                // benchmark that only takes locks): nothing to trace there.
                Err(ProgramError::UProbeError(UProbeError::SymbolError { .. })) => {
                    absent.push(*sym)
                }
                Err(e) => {
                    let what = format!("uprobe {sym} in {}", target.binary.display());
                    return Err(attach_error(what, &e));
                }
            }
        }
        if n == 0 {
            return Err(EbpfError::Attach {
                what: format!("uprobes in {}", target.binary.display()),
                detail: "no lockline_* probe symbol found (stripped, or not a lockline binary?)"
                    .into(),
            });
        }
        if !absent.is_empty() {
            self.notes.push(format!(
                "{} probe symbols not in {} (never called there): {}",
                absent.len(),
                target.binary.display(),
                absent.join(", ")
            ));
        }
        self.attached += n;
        Ok(n)
    }

    /// Sets the filters and attaches every tracepoint this kernel has,
    /// noting (not failing on) the missing ones; returns how many attached.
    pub fn add_kernel(&mut self, filters: &KernelFilters) -> Result<usize, EbpfError> {
        ensure_tracefs()?;
        self.set_filter(MAP_TARGET_TGID, filters.tgid as u64)?;
        self.set_filter(MAP_TARGET_DEV, filters.kernel_dev())?;
        self.set_filter(MAP_TARGET_INO, filters.ino)?;
        let caps = crate::caps::detect();
        if !caps.kprobe_pmu {
            self.notes
                .push("no kprobes on this kernel: kernel-function probes skipped".into());
        }
        if !caps.btf {
            self.notes
                .push("no kernel BTF: fentry/fexit probes skipped".into());
        }
        let mut n = 0;
        for &(prog, cat, event) in TRACEPOINTS {
            if !has_tracepoint(cat, event) {
                self.notes.push(format!(
                    "tracepoint {cat}:{event} not on this kernel: skipped"
                ));
                continue;
            }
            let tp: &mut TracePoint = self.program(prog)?;
            match tp.attach(cat, event) {
                Ok(_) => n += 1,
                Err(e) if is_permission(&e) => {
                    return Err(EbpfError::NotPermitted(format!(
                        "tracepoint {cat}:{event}: {}",
                        chain(&e)
                    )))
                }
                Err(e) => self
                    .notes
                    .push(format!("tracepoint {cat}:{event} skipped: {}", chain(&e))),
            }
        }
        self.attached += n;
        Ok(n)
    }

    /// Events drained so far (the session is still running).
    pub fn events_so_far(&self) -> u64 {
        self.reader.count()
    }

    /// What was skipped so far (missing tracepoints, no kprobes, ...).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Events lost so far because the ring was full.
    pub fn lost_so_far(&self) -> u64 {
        sum_drops(&self.drops)
    }

    /// Every event submitted so far and not yet taken, while tracing goes
    /// on (ring order). Errors when the reader thread does not catch up
    /// within five seconds.
    pub fn take_events(&self) -> Result<Vec<Event>, EbpfError> {
        self.reader
            .take(std::time::Duration::from_secs(5))
            .ok_or_else(|| EbpfError::Reader("did not catch up within 5 s".into()))
    }

    /// Detaches everything, drains the ring and returns the events (ring
    /// order, which is per-CPU submission order: sort by ts_ns for time).
    pub fn stop(self) -> (Vec<Event>, TraceStats) {
        let EbpfTracer {
            bpf,
            reader,
            drops,
            attached,
            notes,
            ..
        } = self;
        // Dropping the Ebpf detaches every link, so nothing new arrives
        // after the reader's final drain.
        drop(bpf);
        let events = reader.finish();
        let stats = TraceStats {
            events: events.len() as u64,
            lost: sum_drops(&drops),
            attached,
            skipped_notes: notes,
        };
        (events, stats)
    }

    /// Like [`stop`](Self::stop) for count-only sessions: the events drained.
    pub fn stop_counting(self) -> TraceStats {
        let count = self.reader.count();
        let (events, mut stats) = self.stop();
        stats.events = stats.events.max(count).max(events.len() as u64);
        stats
    }

    /// The named program, loaded into the kernel on first use.
    fn program<'a, P>(&'a mut self, name: &'static str) -> Result<&'a mut P, EbpfError>
    where
        &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
        P: Loadable + 'a,
    {
        let first = self.loaded.insert(name);
        let prog = self
            .bpf
            .program_mut(name)
            .ok_or_else(|| EbpfError::Load(format!("program {name} missing from the object")))?;
        let p: &mut P = prog.try_into().map_err(|e| load_error(&e))?;
        if first {
            p.load_prog().map_err(|e| load_error(&e))?;
        }
        Ok(p)
    }

    fn set_filter(&mut self, map: &str, value: u64) -> Result<(), EbpfError> {
        let m = self
            .bpf
            .map_mut(map)
            .ok_or_else(|| EbpfError::Load(format!("map {map} missing from the object")))?;
        let mut a: Array<_, u64> = Array::try_from(m).map_err(|e| load_error(&e))?;
        a.set(0, value, 0).map_err(|e| load_error(&e))
    }
}

/// The two program types we load, behind one name.
pub(crate) trait Loadable {
    fn load_prog(&mut self) -> Result<(), aya::programs::ProgramError>;
}
impl Loadable for UProbe {
    fn load_prog(&mut self) -> Result<(), aya::programs::ProgramError> {
        self.load()
    }
}
impl Loadable for TracePoint {
    fn load_prog(&mut self) -> Result<(), aya::programs::ProgramError> {
        self.load()
    }
}

fn take(bpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map, EbpfError> {
    bpf.take_map(name)
        .ok_or_else(|| EbpfError::Load(format!("map {name} missing from the object")))
}

fn sum_drops(drops: &PerCpuArray<MapData, u64>) -> u64 {
    (0..drops.len())
        .filter_map(|k| drops.get(&k, 0).ok())
        .map(|v| v.iter().sum::<u64>())
        .sum()
}

fn attach_error(what: String, e: &aya::programs::ProgramError) -> EbpfError {
    if is_permission(e) {
        EbpfError::NotPermitted(format!("{what}: {}", chain(e)))
    } else {
        EbpfError::Attach {
            what,
            detail: chain(e),
        }
    }
}

// UProbeScope is not Clone in aya 0.14.
fn scope_copy(s: &UProbeScope) -> UProbeScope {
    match s {
        UProbeScope::AllProcesses => UProbeScope::AllProcesses,
        UProbeScope::CallingProcess => UProbeScope::CallingProcess,
        UProbeScope::OneProcess(p) => UProbeScope::OneProcess(*p),
    }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u32 }
}
