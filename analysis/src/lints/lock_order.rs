//! Lock order, the way lockdep checks it: every lock taken while another is
//! held is an edge of a graph over lock classes (the pagecache add and block
//! sides are one lock), and a cycle in that graph is a pair of code paths
//! that can deadlock against each other, whether or not this run did. One
//! class's instances have an order of their own: folio locks of one inode
//! go in ascending index order (as the write path and writeback take them),
//! so a folio lock taken below one already held is an inversion against
//! every writer.

use super::{Finding, LintInfo};
use crate::holds::Hold;
use lockline_engine::probe::{Event, LockClass, NO_FOLIO};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

pub const INFO: LintInfo = LintInfo {
    name: "lock-order-cycle",
    description: "locks taken in orders that can deadlock (a cycle in the lock-order graph)",
    engine_locks: true,
};

/// A node of the lock-order graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Node {
    Inode,
    Pagecache,
    Folio,
    ILock,
}

impl Node {
    fn of(c: LockClass) -> Option<Node> {
        Some(match c {
            LockClass::Inode => Node::Inode,
            LockClass::PagecacheAdd | LockClass::PagecacheBlock => Node::Pagecache,
            LockClass::Folio => Node::Folio,
            LockClass::ILock => Node::ILock,
            // Kernel locks carry no release event to order against.
            LockClass::Kernel => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Node::Inode => "inode",
            Node::Pagecache => "pagecache add/block",
            Node::Folio => "folio",
            Node::ILock => "i_lock",
        }
    }
}

const NODES: usize = 4;

/// The first time an edge was seen: the hold taken while the other was held.
#[derive(Clone, Copy)]
struct Witness {
    outer: usize,
    inner: usize,
}

/// The findings for `holds` (acquisition order) of a trace's `events`.
pub(crate) fn check(holds: &[Hold], events: &[Event]) -> Vec<Finding> {
    let mut edges: BTreeMap<(Node, Node), Witness> = BTreeMap::new();
    // Per thread and node: the latest release among the holds taken so
    // far, and which hold: held at time t iff that release is after t.
    let mut latest: HashMap<u32, [Option<(u64, usize)>; NODES]> = HashMap::default();
    // Per thread: its folio holds not yet known to be released.
    let mut folios: HashMap<u32, Vec<usize>> = HashMap::default();
    let mut out = Vec::new();
    for (i, h) in holds.iter().enumerate() {
        let Some(node) = Node::of(h.class) else {
            continue;
        };
        let t = h.acquired_ns;
        let mine = latest.entry(h.tid).or_insert([None; NODES]);
        for (n, slot) in mine.iter().enumerate() {
            if let Some((r, g)) = *slot {
                if r > t && n != node as usize {
                    let outer = Node::of(holds[g].class).expect("noded");
                    edges
                        .entry((outer, node))
                        .or_insert(Witness { outer: g, inner: i });
                }
            }
        }
        let end = h.released_ns.unwrap_or(u64::MAX);
        let slot = &mut mine[node as usize];
        if slot.is_none_or(|(r, _)| end > r) {
            *slot = Some((end, i));
        }
        if h.class == LockClass::Folio && h.folio != NO_FOLIO {
            let open = folios.entry(h.tid).or_default();
            open.retain(|&g| holds[g].released_ns.is_none_or(|r| r > t));
            if let Some(&g) = open
                .iter()
                .filter(|&&g| holds[g].inode == h.inode && holds[g].folio > h.folio)
                .max_by_key(|&&g| holds[g].folio)
            {
                let hi = &holds[g];
                out.push(finding(
                    h,
                    events,
                    format!(
                        "folio {} of inode {} locked by tid {} (op {}) while it held folio {} (since op {}): folio locks go in ascending order, so a thread taking both the other way round can deadlock with it",
                        h.folio, h.inode, h.tid, h.op, hi.folio, hi.op
                    ),
                ));
            }
            open.push(i);
        }
    }
    for cycle in cycles(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|p| {
                let w = edges[&(p[0], p[1])];
                let (o, n) = (&holds[w.outer], &holds[w.inner]);
                format!(
                    "{} then {} (tid {}, op {})",
                    p[0].name(),
                    p[1].name(),
                    n.tid,
                    if n.op != 0 { n.op } else { o.op }
                )
            })
            .collect();
        let first = edges[&(cycle[0], cycle[1])];
        out.push(finding(
            &holds[first.inner],
            events,
            format!(
                "lock-order cycle: {}: threads taking these in the orders shown can deadlock",
                steps.join(", but ")
            ),
        ));
    }
    out.sort_by_key(|f| (f.event, f.tid));
    out
}

/// Every elementary cycle of the class graph, each once, as its nodes with
/// the first repeated at the end (the graph has four nodes: a search from
/// each start finds them all).
fn cycles(edges: &BTreeMap<(Node, Node), Witness>) -> Vec<Vec<Node>> {
    let all = [Node::Inode, Node::Pagecache, Node::Folio, Node::ILock];
    let mut found = Vec::new();
    fn walk(
        path: &mut Vec<Node>,
        edges: &BTreeMap<(Node, Node), Witness>,
        all: &[Node],
        found: &mut Vec<Vec<Node>>,
    ) {
        let (start, at) = (path[0], *path.last().expect("non-empty"));
        for &n in all {
            if !edges.contains_key(&(at, n)) {
                continue;
            }
            if n == start {
                let mut c = path.clone();
                c.push(start);
                found.push(c);
            } else if n > start && !path.contains(&n) {
                // Only cycles whose smallest node is the start: each once.
                path.push(n);
                walk(path, edges, all, found);
                path.pop();
            }
        }
    }
    for &s in &all {
        walk(&mut vec![s], edges, &all, &mut found);
    }
    found
}

fn finding(h: &Hold, events: &[Event], message: String) -> Finding {
    let id = events.partition_point(|e| e.ts_ns < h.acquired_ns);
    Finding {
        lint: INFO.name,
        event: id as u64,
        ts_ns: h.acquired_ns,
        tid: h.tid,
        op: h.op,
        inode: h.inode,
        folio: (h.folio != NO_FOLIO).then_some(h.folio),
        fid: (h.fid != 0).then_some(h.fid),
        message,
    }
}
