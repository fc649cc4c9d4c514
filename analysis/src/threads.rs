//! Names for the threads of a trace. Engine threads announce their role
//! (thread_role events: main, worker N with its stamp index, flusher,
//! reclaim, migrate, compaction); threads that did not — kernel workers, a
//! trace attached after the threads started, traces from before schema 2 —
//! are named from what they did. Every view labels lanes with these.

use lockline_engine::probe::{Event, EventKind, MmAction, OpKind, ThreadRole};
use std::collections::BTreeMap;

#[derive(Default)]
struct Seen {
    first_ns: u64,
    file_ops: u64,
    writeback_ops: u64,
    mm: BTreeMap<&'static str, u64>,
}

/// tid → name: the announced role ("main", "worker N" with N the stamps'
/// thread index, "flusher", "reclaim", "migrate", "compaction"), else a
/// guess from the thread's events, else "thread <tid>".
pub fn names(events: &[Event]) -> BTreeMap<u32, String> {
    let mut out = guessed(events);
    let roles = roles(events);
    if roles.is_empty() {
        return out;
    }
    for (tid, name) in out.iter_mut() {
        match roles.get(tid) {
            Some(r) => *name = r.clone(),
            // Announced workers own the "worker N" names.
            None if name.starts_with("worker ") => *name = format!("thread {tid}"),
            None => {}
        }
    }
    for (tid, r) in roles {
        out.entry(tid).or_insert(r);
    }
    out
}

/// Names from thread_role events.
pub fn roles(events: &[Event]) -> BTreeMap<u32, String> {
    events
        .iter()
        .filter_map(|e| Some((e.tid, role_name(e)?)))
        .collect()
}

/// The name a thread_role event announces ("worker 3", "flusher").
pub fn role_name(e: &Event) -> Option<String> {
    Some(match e.thread_role()? {
        (ThreadRole::Worker, i) => format!("worker {i}"),
        (r, _) => r.name().to_string(),
    })
}

/// Names guessed from what each thread did: workers numbered by first
/// appearance.
fn guessed(events: &[Event]) -> BTreeMap<u32, String> {
    let mut seen: BTreeMap<u32, Seen> = BTreeMap::new();
    let mut last: Option<u32> = None;
    for e in events {
        // Only op and mm events say what a thread is; other events only
        // register a thread, and runs of one thread's events skip the map.
        let kind = e.kind();
        let telling = matches!(
            kind,
            Some(EventKind::OpBegin | EventKind::SyscallEnter | EventKind::MmAction)
        );
        if !telling && last == Some(e.tid) {
            continue;
        }
        last = Some(e.tid);
        let s = seen.entry(e.tid).or_insert_with(|| Seen {
            first_ns: e.ts_ns,
            ..Seen::default()
        });
        match kind {
            Some(EventKind::OpBegin | EventKind::SyscallEnter) => match e.op_kind() {
                Some(OpKind::Writeback) => s.writeback_ops += 1,
                Some(_) => s.file_ops += 1,
                None => {}
            },
            Some(EventKind::MmAction) => {
                let name = match MmAction::from_u8((e.code >> 8) as u8) {
                    Some(MmAction::Reclaim) => "reclaim",
                    Some(MmAction::Migrate | MmAction::MigrateSkip) => "migrate",
                    Some(MmAction::Compact) => "compaction",
                    Some(MmAction::AllocFail) | None => continue,
                };
                *s.mm.entry(name).or_default() += 1;
            }
            _ => {}
        }
    }
    let mut workers: Vec<(u64, u32)> = seen
        .iter()
        .filter(|(_, s)| s.file_ops > 0)
        .map(|(&tid, s)| (s.first_ns, tid))
        .collect();
    workers.sort_unstable();
    let mut out = BTreeMap::new();
    for (i, (_, tid)) in workers.iter().enumerate() {
        out.insert(*tid, format!("worker {i}"));
    }
    for (&tid, s) in &seen {
        if s.file_ops > 0 {
            continue;
        }
        // Compaction migrates too: the thread's most frequent action names it,
        // except that one compact sweep outranks the migrations it made.
        let name = if s.mm.contains_key("compaction") {
            "compaction".to_string()
        } else if let Some((n, _)) = s.mm.iter().max_by_key(|(_, c)| **c) {
            n.to_string()
        } else if s.writeback_ops > 0 {
            "flusher".to_string()
        } else {
            format!("thread {tid}")
        };
        out.insert(tid, name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::Code;

    fn ev(ts: u64, tid: u32, kind: EventKind, class: u8) -> Event {
        Event {
            ts_ns: ts,
            tid,
            code: Code::pack(kind, class, 0),
            inode: 1,
            folio: 0,
            op: 0,
            a: 0,
            b: 0,
            fid: 0,
        }
    }

    #[test]
    fn names_by_role() {
        let evs = [
            ev(5, 9, EventKind::OpBegin, OpKind::Write as u8),
            ev(1, 7, EventKind::OpBegin, OpKind::Read as u8),
            ev(2, 3, EventKind::OpBegin, OpKind::Writeback as u8),
            ev(3, 4, EventKind::MmAction, MmAction::Reclaim as u8),
            ev(4, 5, EventKind::MmAction, MmAction::Migrate as u8),
            ev(4, 6, EventKind::MmAction, MmAction::Migrate as u8),
            ev(5, 6, EventKind::MmAction, MmAction::Compact as u8),
            ev(6, 8, EventKind::FolioDirtied, 0),
        ];
        let n = names(&evs);
        assert_eq!(n[&7], "worker 0");
        assert_eq!(n[&9], "worker 1");
        assert_eq!(n[&3], "flusher");
        assert_eq!(n[&4], "reclaim");
        assert_eq!(n[&5], "migrate");
        assert_eq!(n[&6], "compaction");
        assert_eq!(n[&8], "thread 8");
    }

    #[test]
    fn announced_roles_win() {
        let role = |ts, tid, r: ThreadRole, a| Event {
            a,
            ..ev(ts, tid, EventKind::ThreadRole, r as u8)
        };
        let evs = [
            role(0, 1, ThreadRole::Main, 0),
            ev(1, 1, EventKind::OpBegin, OpKind::Write as u8),
            role(2, 7, ThreadRole::Worker, 3),
            ev(3, 7, EventKind::OpBegin, OpKind::Write as u8),
            ev(4, 9, EventKind::OpBegin, OpKind::Write as u8),
            role(5, 4, ThreadRole::Flusher, 0),
        ];
        let n = names(&evs);
        assert_eq!(n[&1], "main");
        assert_eq!(n[&7], "worker 3");
        assert_eq!(n[&9], "thread 9");
        assert_eq!(n[&4], "flusher");
    }
}
