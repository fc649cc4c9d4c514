//! The checker's verdicts as the UI lists them: each violation with its
//! blame window (its ops' span, widened to the culprit), the threads and
//! folio involved, and — once the analysis has run — the culprit, the
//! lints that fired in the window and whether the window can be trusted.

use super::data::Data;
use lockline_analysis::blocked_by::HandOffRow;
use lockline_analysis::culprit::Culprit;
use lockline_analysis::lints::Finding;
use lockline_analysis::report::Analysis;
use lockline_analysis::ViolationRow;
use lockline_harness::history::UNFINISHED;

#[derive(Clone, Debug)]
pub struct Violation {
    pub row: ViolationRow,
    /// Blame window, when the trace shows its ops.
    pub window: Option<(u64, u64)>,
    /// Threads of its ops and culprit.
    pub tids: Vec<u32>,
    pub culprit: Option<Culprit>,
    /// Its critical path, once analysed: the waits of the victim's and the
    /// culprit's ops with who held each lock (`blocked_by`), in order.
    pub path: Vec<PathStep>,
    pub inconclusive: bool,
    /// Lint findings inside the window.
    pub lints: Vec<Finding>,
    /// Every check that reported it (after-run, after-fsync, ...): the
    /// same sectors, class and ops found again count once.
    pub checks: Vec<String>,
}

impl Violation {
    pub fn new(row: ViolationRow, data: &Data) -> Violation {
        let mut v = Violation {
            checks: vec![row.check.clone()],
            row,
            window: None,
            tids: Vec::new(),
            culprit: None,
            path: Vec::new(),
            inconclusive: false,
            lints: Vec::new(),
        };
        v.locate(data);
        v
    }

    /// Window and threads from the ops the UI has seen.
    pub fn locate(&mut self, data: &Data) {
        let mut b = u64::MAX;
        let mut e = 0;
        self.tids.clear();
        for op in &self.row.ops {
            if let Some(o) = data.op(*op) {
                b = b.min(o.begin_ns);
                e = e.max(if o.end_ns == UNFINISHED {
                    data.last_ns
                } else {
                    o.end_ns
                });
                if !self.tids.contains(&o.tid) {
                    self.tids.push(o.tid);
                }
            }
        }
        if let Some(c) = &self.culprit {
            b = b.min(c.ts_ns);
            e = e.max(c.ts_ns);
            if !self.tids.contains(&c.tid) {
                self.tids.push(c.tid);
            }
        }
        self.window = (b <= e).then_some((b, e));
    }

    /// The walk from the victim to the culprit: the victim's op, the waits
    /// of the critical path, the culprit's event (empty before the
    /// analysis names a culprit).
    pub fn walk(&self, data: &Data) -> Vec<PathStep> {
        let Some(c) = &self.culprit else {
            return Vec::new();
        };
        let mut v = Vec::with_capacity(self.path.len() + 2);
        if let Some(o) = data.op(c.victim_op) {
            v.push(PathStep {
                line: format!(
                    "victim: {} (op {}) {} {}+{}",
                    c.victim_thread,
                    o.op,
                    o.kind.name(),
                    o.offset,
                    o.len
                ),
                at_ns: o.begin_ns,
                until_ns: if o.end_ns == UNFINISHED {
                    data.last_ns
                } else {
                    o.end_ns
                },
                tids: vec![o.tid],
                ops: vec![o.op],
            });
        }
        v.extend(self.path.iter().cloned());
        v.push(PathStep {
            line: c.line.clone(),
            at_ns: c.ts_ns,
            until_ns: c.ts_ns,
            tids: vec![c.tid, c.victim_tid],
            ops: vec![c.op, c.victim_op],
        });
        v
    }

    /// The folio to follow in the folio lane: the cached folio when the
    /// checker saw one, else the page of the first sector.
    pub fn folio(&self) -> u64 {
        self.row.folio_first.unwrap_or(self.row.folio_index)
    }

    pub fn class(&self) -> &str {
        &self.row.class
    }
}

/// One stop on the walk from a violation's victim to its culprit (`]`,
/// `[`): the victim's op, each wait on its critical path, the culprit's
/// event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    pub line: String,
    /// Where the cursor goes, and the span the view must show.
    pub at_ns: u64,
    pub until_ns: u64,
    /// Threads and ops lit at this step (a wait: its waiter and holder).
    pub tids: Vec<u32>,
    pub ops: Vec<u64>,
}

impl PathStep {
    fn wait(r: &HandOffRow) -> PathStep {
        PathStep {
            line: r.line.clone(),
            at_ns: r.wait_ns,
            until_ns: r.granted_ns,
            tids: std::iter::once(r.waiter_tid).chain(r.holder_tid).collect(),
            ops: std::iter::once(r.waiter_op).chain(r.holder_op).collect(),
        }
    }
}

/// Every violation, in the checker's order, and the selection.
#[derive(Debug, Default)]
pub struct Violations {
    pub list: Vec<Violation>,
    pub selected: usize,
    /// The selected violation's walk from victim to culprit
    /// (`Violation::walk`), taken at the first `]` or `[`, and where on it
    /// the cursor is.
    pub walk: Vec<PathStep>,
    pub step: Option<usize>,
    /// The analysis has run over the whole trace (culprits, lints, trust).
    pub analysed: bool,
}

impl Violations {
    /// Adds a verdict; one already listed from an earlier check of the
    /// same round gains that check instead. Returns whether it was new.
    pub fn add(&mut self, row: ViolationRow, data: &mut Data) -> bool {
        if let Some(v) = self.list.iter_mut().find(|v| {
            v.row.round == row.round
                && v.row.ino == row.ino
                && v.row.first_sector == row.first_sector
                && v.row.nr_sectors == row.nr_sectors
                && v.row.class == row.class
                && v.row.ops == row.ops
        }) {
            if !v.checks.contains(&row.check) {
                v.checks.push(row.check);
            }
            return false;
        }
        let v = Violation::new(row, data);
        if let Some((a, b)) = v.window {
            data.pin(a, b, &v.row.ops);
        }
        self.list.push(v);
        true
    }

    /// Culprits, trust and lints from the analysis of the whole trace.
    /// The analysis has blame windows for the final check's violations;
    /// a violation the UI listed from an earlier check gets the window of
    /// the final check's finding over the same sectors and ops.
    pub fn apply(&mut self, a: &Analysis, data: &Data) {
        for v in &mut self.list {
            // By content, not id: a live UI numbers violations as they
            // arrive, the analysis by the trace's table (and each round's
            // file has its own inode, so content is unique).
            let w = a.blame.iter().find(|w| {
                w.ino == v.row.ino
                    && w.first_sector == v.row.first_sector
                    && w.nr_sectors == v.row.nr_sectors
                    && w.ops == v.row.ops
            });
            if let Some(w) = w {
                v.culprit = w.culprit.clone();
                v.inconclusive = w.inconclusive;
                v.path = a
                    .blocked_by
                    .critical_paths
                    .iter()
                    .filter(|p| p.violation == w.violation)
                    .flat_map(|p| p.waits.iter().map(PathStep::wait))
                    .collect();
            }
            v.locate(data);
            if let Some((b, e)) = v.window {
                v.lints = a
                    .findings
                    .iter()
                    .filter(|f| {
                        f.ts_ns >= b && f.ts_ns <= e && (f.inode == v.row.ino || f.inode == 0)
                    })
                    .take(50)
                    .cloned()
                    .collect();
                v.inconclusive |= a.consistency.overlaps(b, e);
            }
        }
        self.analysed = true;
    }

    pub fn current(&self) -> Option<&Violation> {
        self.list.get(self.selected)
    }

    pub fn next(&mut self) {
        if !self.list.is_empty() {
            self.selected = (self.selected + 1) % self.list.len();
        }
    }

    pub fn prev(&mut self) {
        if !self.list.is_empty() {
            self.selected = (self.selected + self.list.len() - 1) % self.list.len();
        }
    }
}
