//! The probe-point symbols (uprobe targets) and their inline wrappers.
//!
//! Each `lockline_*` symbol is a naked function whose first instruction is the
//! 5-byte NOP `0f 1f 44 00 00`: un-probed it costs a call and a return; with
//! a uprobe attached, kernels that optimise x86 uprobes patch the NOP into a
//! call to a trampoline instead of trapping on int3, which on this VM is the
//! difference between ~0.8 µs and ~12 µs per hit. The names and the argument
//! layout (see the module docs of `probe`) are a stable interface: eBPF
//! programs and bpftrace one-liners attach to them by name.

use super::recorder;
use super::schema::{
    now_ns, Code, Event, EventKind, LockClass, LockMode, MmAction, OpKind, ThreadRole, NO_FID,
    NO_FOLIO,
};
use parking_lot::RwLock;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

type ProbeFn = extern "C" fn(u32, u64, u64, u64, u64, u64, u64);

macro_rules! probe_points {
    ($($sym:ident => $kind:ident,)*) => {
        $(
            #[cfg(target_arch = "x86_64")]
            #[unsafe(naked)]
            #[no_mangle]
            pub extern "C" fn $sym(
                _code: u32, _inode: u64, _folio: u64, _op: u64, _a: u64, _b: u64, _fid: u64,
            ) {
                core::arch::naked_asm!(".byte 0x0f, 0x1f, 0x44, 0x00, 0x00", "ret");
            }

            #[cfg(not(target_arch = "x86_64"))]
            #[no_mangle]
            #[inline(never)]
            pub extern "C" fn $sym(
                code: u32, inode: u64, folio: u64, op: u64, a: u64, b: u64, fid: u64,
            ) {
                std::hint::black_box((code, inode, folio, op, a, b, fid));
            }
        )*

        /// Every probe symbol with the event kind it carries, for loaders.
        pub const SYMBOLS: &[(EventKind, &str)] = &[$((EventKind::$kind, stringify!($sym)),)*];

        /// Every probe symbol's address. `attach_thread` hands it to
        /// `black_box`, so any binary that runs engine threads links every
        /// symbol, including those of events it never emits: loaders attach
        /// to all of SYMBOLS by name.
        static ALL_SYMBOLS: &[ProbeFn] = &[$($sym,)*];

        /// The probe symbol of an engine event kind; None for the kinds only
        /// kernel tracepoints produce.
        #[inline(always)]
        fn symbol_for(kind: EventKind) -> Option<ProbeFn> {
            match kind {
                $(EventKind::$kind => Some($sym),)*
                _ => None,
            }
        }
    };
}

probe_points! {
    lockline_lock_wait => LockWait,
    lockline_lock_acquired => LockAcquired,
    lockline_lock_released => LockReleased,
    lockline_folio_added => FolioAdded,
    lockline_folio_removed => FolioRemoved,
    lockline_folio_dirtied => FolioDirtied,
    lockline_folio_cleaned => FolioCleaned,
    lockline_folio_writeback_start => FolioWritebackStart,
    lockline_folio_writeback_end => FolioWritebackEnd,
    lockline_folio_migrated => FolioMigrated,
    lockline_folio_truncated => FolioTruncated,
    lockline_folio_uptodate => FolioUptodate,
    lockline_isize_changed => IsizeChanged,
    lockline_short_copy => ShortCopy,
    lockline_write_restart => WriteRestart,
    lockline_op_begin => OpBegin,
    lockline_op_end => OpEnd,
    lockline_mm_action => MmAction,
    lockline_thread_role => ThreadRole,
    lockline_round_begin => RoundBegin,
    lockline_folio_writeback_io => FolioWritebackIo,
    lockline_page_mkwrite => PageMkwrite,
    lockline_page_fault => PageFault,
}

/// Op ids come from one counter per process, so they stay unique within a
/// trace across remounts and targets: the ops table's `op` is a key.
static NEXT_OP: AtomicU64 = AtomicU64::new(1);

/// A fresh op id.
#[inline]
pub fn next_op_id() -> u64 {
    NEXT_OP.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static CURRENT_OP: Cell<u64> = const { Cell::new(0) };
}

/// The op id the calling thread is working for (0: background work).
#[inline(always)]
pub(crate) fn current_op() -> u64 {
    CURRENT_OP.with(|c| c.get())
}

/// Marks the calling thread as working for `op` until the guard drops, so
/// every lock and folio event it emits carries the op id.
pub(crate) struct OpScope {
    prev: u64,
}

impl OpScope {
    pub(crate) fn enter(op: u64) -> OpScope {
        OpScope {
            prev: CURRENT_OP.with(|c| c.replace(op)),
        }
    }
}

impl Drop for OpScope {
    fn drop(&mut self) {
        CURRENT_OP.with(|c| c.set(self.prev));
    }
}

/// A schedule hook sees every event, on the emitting thread, before the
/// probe symbol fires; it may block to force an interleaving.
pub type Hook = Arc<dyn Fn(&Event) + Send + Sync>;

static HOOK_ON: AtomicBool = AtomicBool::new(false);
static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Installs (or with None removes) the process-wide schedule hook. Used by
/// tests and demos that drive a chosen interleaving deterministically; with
/// no hook installed the cost is one relaxed load per event.
pub fn set_hook(hook: Option<Hook>) {
    let on = hook.is_some();
    *HOOK.write() = hook;
    HOOK_ON.store(on, Ordering::Release);
}

/// One probe hit's values (the probe ABI without the timestamp and tid).
#[derive(Clone, Copy)]
struct Hit {
    code: u32,
    inode: u64,
    folio: u64,
    op: u64,
    a: u64,
    b: u64,
    fid: u64,
}

#[cold]
fn call_hook(h: Hit) {
    let hook = HOOK.read().clone();
    if let Some(hook) = hook {
        hook(&Event {
            ts_ns: now_ns(),
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::gettid() as u32 },
            code: h.code,
            inode: h.inode,
            folio: h.folio,
            op: h.op,
            a: h.a,
            b: h.b,
            fid: h.fid,
        });
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn emit(kind: EventKind, class: u8, mode: u8, inode: u64, folio: u64, a: u64, b: u64, fid: u64) {
    let h = Hit {
        code: Code::pack(kind, class, mode),
        inode,
        folio,
        op: current_op(),
        a,
        b,
        fid,
    };
    recorder::record(h.code, h.inode, h.folio, h.op, h.a, h.b, h.fid);
    if HOOK_ON.load(Ordering::Relaxed) {
        call_hook(h);
    }
    if let Some(sym) = symbol_for(kind) {
        sym(h.code, h.inode, h.folio, h.op, h.a, h.b, h.fid);
    }
}

#[inline(always)]
pub(crate) fn lock_wait(class: LockClass, mode: LockMode, inode: u64, folio: u64, fid: u64) {
    emit(
        EventKind::LockWait,
        class as u8,
        mode as u8,
        inode,
        folio,
        0,
        0,
        fid,
    );
}
#[inline(always)]
pub fn lock_acquired(class: LockClass, mode: LockMode, inode: u64, folio: u64, fid: u64) {
    emit(
        EventKind::LockAcquired,
        class as u8,
        mode as u8,
        inode,
        folio,
        0,
        0,
        fid,
    );
}
#[inline(always)]
pub(crate) fn lock_released(class: LockClass, mode: LockMode, inode: u64, folio: u64, fid: u64) {
    emit(
        EventKind::LockReleased,
        class as u8,
        mode as u8,
        inode,
        folio,
        0,
        0,
        fid,
    );
}

/// Folio events: `a` and `b` as documented on each [`EventKind`]; `fid`
/// the folio's identity.
#[inline(always)]
pub(crate) fn folio(kind: EventKind, inode: u64, index: u64, fid: u64, a: u64, b: u64) {
    emit(kind, 0, 0, inode, index, a, b, fid);
}

#[inline(always)]
pub(crate) fn isize_changed(inode: u64, old: u64, new: u64) {
    emit(
        EventKind::IsizeChanged,
        0,
        0,
        inode,
        NO_FOLIO,
        old,
        new,
        NO_FID,
    );
}
#[inline(always)]
pub(crate) fn short_copy(inode: u64, index: u64, fid: u64, asked: u64, copied: u64) {
    emit(EventKind::ShortCopy, 0, 0, inode, index, asked, copied, fid);
}
#[inline(always)]
pub(crate) fn write_restart(inode: u64, written: u64, written2: u64) {
    emit(
        EventKind::WriteRestart,
        0,
        0,
        inode,
        NO_FOLIO,
        written,
        written2,
        NO_FID,
    );
}
#[inline(always)]
pub fn op_begin(kind: OpKind, inode: u64, offset: u64, len: u64) {
    emit(
        EventKind::OpBegin,
        kind as u8,
        0,
        inode,
        NO_FOLIO,
        offset,
        len,
        NO_FID,
    );
}
#[inline(always)]
pub fn op_end(kind: OpKind, inode: u64, offset: u64, result: i64) {
    emit(
        EventKind::OpEnd,
        kind as u8,
        0,
        inode,
        NO_FOLIO,
        offset,
        result as u64,
        NO_FID,
    );
}
#[inline(always)]
pub(crate) fn mm_action(action: MmAction, inode: u64, index: u64, fid: u64, arg: u64) {
    emit(
        EventKind::MmAction,
        action as u8,
        0,
        inode,
        index,
        arg,
        0,
        fid,
    );
}

/// Attaches the calling thread to `rec` (None: eBPF or no recording) and
/// announces its role; call once when the thread starts.
pub fn attach_thread(rec: Option<&Arc<recorder::Recorder>>, role: ThreadRole, index: u64) {
    std::hint::black_box(ALL_SYMBOLS);
    recorder::attach(rec);
    thread_role(role, index);
}

/// Announces what the calling thread is for (see [`attach_thread`]).
#[inline]
fn thread_role(role: ThreadRole, index: u64) {
    emit(
        EventKind::ThreadRole,
        role as u8,
        0,
        0,
        NO_FOLIO,
        index,
        0,
        NO_FID,
    );
}

/// Marks the start of checked round `round` (1-based) on the file `ino`:
/// every op that begins after it, up to the next round's marker, belongs
/// to that round. Emitted by the session's main thread.
#[inline]
pub fn round_begin(round: u64, ino: u64) {
    emit(EventKind::RoundBegin, 0, 0, ino, NO_FOLIO, round, 0, NO_FID);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn probe_symbols_start_with_nop5() {
        // The optimised uprobe path needs exactly this first instruction.
        let f: ProbeFn = lockline_folio_dirtied;
        let bytes = unsafe { std::slice::from_raw_parts(f as *const u8, 6) };
        assert_eq!(bytes, &[0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3]);
    }

    #[test]
    fn every_engine_kind_has_a_symbol() {
        for k in EventKind::ALL {
            let has = SYMBOLS.iter().any(|(sk, _)| sk == k);
            assert_eq!(has, !k.kernel_only(), "{k}");
        }
    }

    #[test]
    fn op_scope_nests() {
        assert_eq!(current_op(), 0);
        {
            let _a = OpScope::enter(7);
            assert_eq!(current_op(), 7);
            {
                let _b = OpScope::enter(9);
                assert_eq!(current_op(), 9);
            }
            assert_eq!(current_op(), 7);
        }
        assert_eq!(current_op(), 0);
    }
}
