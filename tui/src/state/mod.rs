//! What the UI shows, apart from how: the ingested trace, the violations,
//! the viewport, focus, filters and prompts. Knows nothing of the terminal;
//! every message goes through [`App::on_msg`] and tests drive it with plain
//! values.

pub mod data;
pub mod hist;
pub mod packed;
pub mod spans;
pub mod timefmt;
pub mod viewport;
pub mod violations;

use crate::event::{Key, Msg};
use crate::layout::Layout;
use data::{end_or, Data, Retention, CLASSES};
use lockline_analysis::report::{Analysis, LintSummary};
use lockline_analysis::{Hold, Trace, TraceMeta};
use ratatui::layout::Position;
use viewport::Viewport;
use violations::Violations;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Timeline,
    Violations,
}

/// The detail pane beside the violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Holders,
    Folio,
    Stats,
    Lints,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Holders, Tab::Folio, Tab::Stats, Tab::Lints];
    pub fn title(self) -> &'static str {
        match self {
            Tab::Holders => "Held at cursor",
            Tab::Folio => "Folio/inode",
            Tab::Stats => "Stats",
            Tab::Lints => "Lints",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Go to a time ("1.5ms", "300us", "2s" from the trace's start).
    Goto(String),
    /// Find an op by id.
    Search(String),
}

/// What the loop must do for the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Export [t0, t1] (Chrome JSON and a PNG).
    Export(u64, u64),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// A lane (index into data.lanes).
    pub thread: Option<usize>,
    /// Index into data::CLASSES.
    pub class: Option<usize>,
    pub inode: Option<u64>,
}

/// Threads, ops and folio to draw highlighted: the selected violation's,
/// or a searched op's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highlight {
    pub tids: Vec<u32>,
    pub ops: Vec<u64>,
    /// (inode, folio index)
    pub folio: Option<(u64, u64)>,
    /// The blame window.
    pub window: Option<(u64, u64)>,
}

pub struct App {
    pub data: Data,
    pub violations: Violations,
    pub vp: Viewport,
    pub meta: TraceMeta,
    pub focus: Focus,
    pub tab: Tab,
    pub prompt: Option<Prompt>,
    pub filters: Filters,
    pub highlight: Highlight,
    pub help: bool,
    /// A live source (run --tui, watch): follow mode makes sense.
    pub live: bool,
    /// The source has finished.
    pub done: bool,
    pub status: String,
    pub rounds: u64,
    pub rounds_with_violations: u64,
    pub lints: Vec<LintSummary>,
    pub perf: Vec<(String, f64)>,
    /// First lane shown when lanes do not fit.
    pub lane_scroll: usize,
    /// Where the screen's regions are for the terminal's size (set by
    /// `Msg::Resize`; an 80x24 terminal's until the first): mouse clicks
    /// and cursor steps map to time through its timeline cells, the view
    /// draws the same layout for the same size.
    pub layout: Layout,
    /// Analysis has named at least one violation or the source is done:
    /// the initial focus has been decided.
    focused_once: bool,
}

/// The hold at time `t` among `at` that keeps `waiter` out: the same
/// lock, another thread, a conflicting mode, taken by `t`; of several
/// (shared holders), the one released last.
pub fn blocker<'a>(at: &'a [Hold], waiter: &Hold, t: u64) -> Option<&'a Hold> {
    at.iter()
        .filter(|g| g.acquired_ns <= t && lockline_analysis::blocked_by::blocks(g, waiter))
        .max_by_key(|g| g.released_ns.unwrap_or(u64::MAX))
}

impl App {
    pub fn new(live: bool, retention: Option<Retention>) -> App {
        App {
            data: Data::new(retention),
            violations: Violations::default(),
            vp: Viewport::default(),
            meta: TraceMeta::default(),
            focus: Focus::Timeline,
            tab: Tab::Holders,
            prompt: None,
            filters: Filters::default(),
            highlight: Highlight::default(),
            help: false,
            live,
            done: false,
            status: String::new(),
            rounds: 0,
            rounds_with_violations: 0,
            lints: Vec::new(),
            perf: Vec::new(),
            lane_scroll: 0,
            layout: Layout::default(),
            focused_once: false,
        }
    }

    /// A finished trace, all of it at once (tests, benchmarks): the same
    /// messages a replay source sends.
    pub fn from_trace(trace: &Trace, analysis: Option<Analysis>) -> App {
        let mut app = App::new(false, None);
        crate::source::replay_messages(trace, None, |m| {
            app.on_msg(m);
            true
        });
        if let Some(a) = analysis {
            app.on_msg(Msg::Analysis(Box::new(a)));
        }
        app.on_msg(crate::source::done_message(trace));
        app
    }

    /// Columns of the timeline's cells.
    fn width(&self) -> u16 {
        self.layout.cells.width.max(1)
    }

    /// Applies one message; returns what the loop must do.
    pub fn on_msg(&mut self, m: Msg) -> Option<Action> {
        match m {
            Msg::Key(k) => return self.on_key(k),
            Msg::Click { col, row } => self.on_click(col, row),
            Msg::Scroll { up, col, row } => {
                self.on_click(col, row);
                self.vp.zoom(if up { 0.5 } else { 2.0 });
            }
            Msg::Resize(w, h) => self.layout = Layout::of_size(w, h),
            Msg::Tick => {}
            Msg::Meta(m) => self.meta = *m,
            Msg::Events(batch) => {
                let empty = self.data.first_ns.is_none();
                self.data.ingest(&batch);
                if let Some(first) = self.data.first_ns {
                    if empty {
                        self.vp.t0 = first;
                        self.vp.cursor = first;
                    }
                    if self.live {
                        self.vp.follow_to(first, self.data.last_ns);
                    }
                }
            }
            Msg::Check {
                label,
                round,
                violations,
            } => {
                let n = violations.len();
                for mut v in violations {
                    let id = v.id;
                    v.id = self.violations.list.len() as u32;
                    if !self.violations.add(v, &mut self.data) {
                        continue;
                    }
                    // Keep the trace's own id where it is one (replay):
                    // the analysis names violations by it.
                    if !self.live {
                        if let Some(last) = self.violations.list.last_mut() {
                            last.row.id = id;
                        }
                    }
                }
                if n > 0 {
                    let r = round.map(|r| format!("round {r} ")).unwrap_or_default();
                    self.status = format!("{r}{label}: {n} violation(s)");
                    self.first_focus();
                }
            }
            Msg::Round { round, violations } => {
                self.rounds = self.rounds.max(round);
                if violations > 0 {
                    self.rounds_with_violations += 1;
                }
            }
            Msg::Analysis(a) => {
                self.violations.apply(&a, &self.data);
                self.lints = a.lints.clone();
                self.select_violation(self.violations.selected, false);
            }
            Msg::Names(n) => self.data.set_names(&n),
            Msg::Perf(p) => self.perf = p,
            Msg::Status(s) => self.status = s,
            Msg::Reset => {
                self.data = Data::new(None);
                let selected = self.violations.selected;
                self.violations = Violations::default();
                self.violations.selected = selected;
                // Nothing is live any more: the view stays where it is.
                self.live = false;
                self.vp.follow = false;
                self.focused_once = true;
            }
            Msg::Done(why) => {
                self.done = true;
                self.status = why;
                // Nothing more arrives: what growth reserved can go back.
                self.data.shrink_to_fit();
                give_back_freed_memory();
                if let Some(first) = self.data.first_ns {
                    if !self.live || self.vp.follow {
                        self.vp.fit(first, self.data.last_ns);
                        self.vp.cursor = first;
                        self.vp.follow = false;
                    }
                }
                self.first_focus();
            }
        }
        None
    }

    /// A trace with violations opens on the first of them.
    fn first_focus(&mut self) {
        if self.focused_once || self.violations.list.is_empty() {
            return;
        }
        self.focused_once = true;
        self.focus = Focus::Violations;
        self.select_violation(0, false);
    }

    fn on_click(&mut self, col: u16, row: u16) {
        let cells = self.layout.cells;
        if cells.contains(Position::new(col, row)) {
            self.vp.cursor = self.vp.time_at(col - cells.x, cells.width);
            self.vp.follow = false;
            self.focus = Focus::Timeline;
        }
    }

    /// Selects violation `i`; with `jump`, moves the timeline to its blame
    /// window.
    pub fn select_violation(&mut self, i: usize, jump: bool) {
        if self.violations.list.is_empty() {
            return;
        }
        self.violations.selected = i.min(self.violations.list.len() - 1);
        self.violations.walk.clear();
        self.violations.step = None;
        let Some(v) = self.violations.current() else {
            return;
        };
        self.highlight = Highlight {
            tids: v.tids.clone(),
            ops: v.row.ops.clone(),
            folio: Some((v.row.ino, v.folio())),
            window: v.window,
        };
        if jump {
            if let Some((a, b)) = v.window {
                self.vp.follow = false;
                self.vp.fit(a, b);
                self.vp.cursor = v.culprit.as_ref().map_or(a, |c| c.ts_ns);
                let tids = v.tids.clone();
                self.scroll_to_lanes(&tids);
            } else {
                self.status = format!(
                    "violation {}: its ops are not in the trace (events lost or summarised)",
                    v.row.id
                );
            }
        }
    }

    /// The first wait at the cursor (highlighted threads first, then by
    /// thread id) and the hold keeping it out.
    pub fn blocked_at_cursor(&self) -> Option<(Hold, Hold)> {
        let t = self.vp.cursor;
        let at = self.data.at(t);
        let mut waits: Vec<&Hold> = at.iter().filter(|h| h.acquired_ns > t).collect();
        waits.sort_by_key(|h| (!self.highlight.tids.contains(&h.tid), h.tid));
        waits
            .into_iter()
            .find_map(|w| blocker(&at, w, t).map(|g| (w.clone(), g.clone())))
    }

    /// `]` (forward) and `[`: the next stop on the selected violation's
    /// walk from its victim's op through the waits of its critical path to
    /// its culprit's event; the cursor goes there, its threads and ops lit,
    /// the view widened to show it.
    fn walk_path(&mut self, forward: bool) {
        let Some(v) = self.violations.current() else {
            self.status = "no violation selected".into();
            return;
        };
        let id = v.row.id;
        if self.violations.walk.is_empty() {
            let walk = v.walk(&self.data);
            self.violations.walk = walk;
        }
        let n = self.violations.walk.len();
        if n == 0 {
            self.status = if self.violations.analysed {
                format!("violation {id}: no culprit, so no path to walk")
            } else {
                "the path is known once the analysis has run".into()
            };
            return;
        }
        let k = match (self.violations.step, forward) {
            (None, _) => 0,
            (Some(k), true) => (k + 1).min(n - 1),
            (Some(k), false) => k.saturating_sub(1),
        };
        self.violations.step = Some(k);
        let step = self.violations.walk[k].clone();
        let (window, folio) = (self.highlight.window, self.highlight.folio);
        self.highlight = Highlight {
            tids: step.tids.clone(),
            ops: step.ops.clone(),
            folio,
            window,
        };
        self.vp.follow = false;
        let end = step.until_ns.max(step.at_ns + 1);
        if step.at_ns < self.vp.t0 || end > self.vp.t1() {
            let span = (end - step.at_ns).max(self.vp.span);
            self.vp.fit(
                step.at_ns.saturating_sub(span / 10),
                step.at_ns.saturating_add(span),
            );
        }
        self.vp.cursor = step.at_ns;
        self.scroll_to_lanes(&step.tids);
        self.status = format!("step {}/{n}: {}", k + 1, step.line);
    }

    /// Enter on a wait: the cursor goes to where its holder took the lock,
    /// with the holder's thread and op lit, so the hold that blocked the
    /// waiter is under the cursor.
    fn jump_to_blocker(&mut self) -> bool {
        let Some((w, g)) = self.blocked_at_cursor() else {
            return false;
        };
        let name = |tid| {
            self.data
                .lane_of(tid)
                .map_or(format!("tid {tid}"), |l| l.name.clone())
        };
        self.status = format!(
            "{} (op {}) waits for {} {}: held by {} (op {}) from here",
            name(w.tid),
            w.op,
            w.class.name(),
            if w.folio == lockline_engine::probe::NO_FOLIO {
                String::new()
            } else {
                w.folio.to_string()
            },
            name(g.tid),
            g.op
        );
        self.highlight = Highlight {
            tids: vec![g.tid, w.tid],
            ops: vec![g.op, w.op],
            folio: self.highlight.folio,
            window: self.highlight.window,
        };
        self.vp.follow = false;
        if g.acquired_ns < self.vp.t0 {
            let span = self.vp.t1() - self.vp.t0;
            self.vp.fit(
                g.acquired_ns.saturating_sub(span / 10),
                w.acquired_ns.max(g.acquired_ns + 1),
            );
        }
        self.vp.cursor = g.acquired_ns;
        self.scroll_to_lanes(&[g.tid]);
        true
    }

    fn scroll_to_lanes(&mut self, tids: &[u32]) {
        let lanes = self.visible_lanes();
        if let Some(p) = lanes
            .iter()
            .position(|&i| self.data.lanes[i].tids.iter().any(|t| tids.contains(t)))
        {
            let rows = self.layout.cells.height as usize;
            if p < self.lane_scroll || p >= self.lane_scroll + rows.max(1) {
                self.lane_scroll = p;
            }
        }
    }

    /// Lane indices in display order (workers first, then main and the
    /// background threads), after the thread filter.
    pub fn visible_lanes(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.data.lanes.len())
            .filter(|&i| self.filters.thread.is_none_or(|t| i == t))
            .collect();
        v.sort_by_key(|&i| lane_order(&self.data.lanes[i].name, self.data.lanes[i].tid()));
        v
    }

    fn on_key(&mut self, k: Key) -> Option<Action> {
        if let Some(p) = self.prompt.take() {
            self.on_prompt_key(p, k);
            return None;
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            if k == Key::Char('q') || k == Key::CtrlC {
                return Some(Action::Quit);
            }
            return None;
        }
        let w = self.width();
        match k {
            Key::Char('q') | Key::CtrlC => return Some(Action::Quit),
            Key::Esc => self.highlight = Highlight::default(),
            Key::Char('?') => self.help = true,
            Key::Tab => {
                self.focus = match self.focus {
                    Focus::Timeline => Focus::Violations,
                    Focus::Violations => Focus::Timeline,
                }
            }
            Key::BackTab | Key::Char('v') => {
                let i = Tab::ALL.iter().position(|t| *t == self.tab).unwrap_or(0);
                self.tab = Tab::ALL[(i + 1) % Tab::ALL.len()];
            }
            Key::Char('1') => self.tab = Tab::Holders,
            Key::Char('2') => self.tab = Tab::Folio,
            Key::Char('3') => self.tab = Tab::Stats,
            Key::Char('4') => self.tab = Tab::Lints,
            Key::Left | Key::Char('h') => self.vp.step_cursor(-1, w),
            Key::Right | Key::Char('l') => self.vp.step_cursor(1, w),
            Key::ShiftLeft | Key::Char('H') => self.vp.pan(-0.25),
            Key::ShiftRight | Key::Char('L') => self.vp.pan(0.25),
            Key::Char('+') | Key::Char('=') | Key::Char('i') => self.vp.zoom(0.5),
            Key::Char('-') | Key::Char('o') => self.vp.zoom(2.0),
            Key::Char('0') | Key::Char('f') => {
                if let Some(first) = self.data.first_ns {
                    self.vp.fit(first, self.data.last_ns);
                    self.vp.follow = false;
                }
            }
            Key::Char('z') => {
                if let Some((a, b)) = self.highlight.window {
                    self.vp.fit(a, b);
                    self.vp.follow = false;
                }
            }
            Key::Home => {
                if let Some(first) = self.data.first_ns {
                    self.vp.goto(first);
                    self.vp.t0 = first;
                }
            }
            Key::End => {
                self.vp.follow = true;
                if let Some(first) = self.data.first_ns {
                    self.vp.follow_to(first, self.data.last_ns);
                }
            }
            Key::Char('p') | Key::Char(' ') => {
                self.vp.follow = !self.vp.follow;
                if let Some(first) = self.data.first_ns {
                    self.vp.follow_to(first, self.data.last_ns);
                }
            }
            Key::Char('g') => self.prompt = Some(Prompt::Goto(String::new())),
            Key::Char('/') => self.prompt = Some(Prompt::Search(String::new())),
            Key::Char('n') => {
                self.violations.next();
                self.select_violation(self.violations.selected, true);
            }
            Key::Char('N') => {
                self.violations.prev();
                self.select_violation(self.violations.selected, true);
            }
            // On the timeline with the holders shown, Enter on a wait goes
            // to its holder; otherwise to the selected violation.
            Key::Enter
                if self.focus == Focus::Timeline
                    && self.tab == Tab::Holders
                    && self.jump_to_blocker() => {}
            Key::Enter => self.select_violation(self.violations.selected, true),
            Key::Char(']') => self.walk_path(true),
            Key::Char('[') => self.walk_path(false),
            Key::Char('b') if !self.jump_to_blocker() => {
                self.status = "no thread waits for a lock at the cursor".into();
            }
            Key::Up | Key::Char('k') => match self.focus {
                Focus::Violations => {
                    self.violations.prev();
                    self.select_violation(self.violations.selected, false);
                }
                Focus::Timeline => self.lane_scroll = self.lane_scroll.saturating_sub(1),
            },
            Key::Down | Key::Char('j') => match self.focus {
                Focus::Violations => {
                    self.violations.next();
                    self.select_violation(self.violations.selected, false);
                }
                Focus::Timeline => {
                    let n = self.visible_lanes().len();
                    self.lane_scroll = (self.lane_scroll + 1).min(n.saturating_sub(1));
                }
            },
            Key::PageUp => self.lane_scroll = self.lane_scroll.saturating_sub(8),
            Key::PageDown => {
                let n = self.visible_lanes().len();
                self.lane_scroll = (self.lane_scroll + 8).min(n.saturating_sub(1));
            }
            Key::Char('t') => self.cycle_thread(),
            Key::Char('c') => {
                self.filters.class = match self.filters.class {
                    None => Some(0),
                    Some(i) if i + 1 < CLASSES.len() => Some(i + 1),
                    Some(_) => None,
                }
            }
            Key::Char('I') => self.cycle_inode(),
            Key::Char('e') => return Some(Action::Export(self.vp.t0, self.vp.t1())),
            _ => {}
        }
        None
    }

    fn cycle_thread(&mut self) {
        let order: Vec<usize> = {
            let saved = self.filters.thread.take();
            let v = self.visible_lanes();
            self.filters.thread = saved;
            v
        };
        self.filters.thread = match self.filters.thread {
            None => order.first().copied(),
            Some(t) => order
                .iter()
                .position(|x| *x == t)
                .and_then(|p| order.get(p + 1))
                .copied(),
        };
        self.lane_scroll = 0;
    }

    fn cycle_inode(&mut self) {
        let inodes = &self.data.inodes;
        self.filters.inode = match self.filters.inode {
            None => inodes.first().copied(),
            Some(i) => inodes
                .iter()
                .position(|x| *x == i)
                .and_then(|p| inodes.get(p + 1))
                .copied(),
        };
    }

    fn on_prompt_key(&mut self, p: Prompt, k: Key) {
        let (mut text, goto) = match p {
            Prompt::Goto(s) => (s, true),
            Prompt::Search(s) => (s, false),
        };
        match k {
            Key::Esc => return,
            Key::Enter => {
                if goto {
                    self.goto_text(&text);
                } else {
                    self.search_op(&text);
                }
                return;
            }
            Key::Backspace => {
                text.pop();
            }
            Key::Char(c) if !c.is_control() && text.len() < 32 => text.push(c),
            _ => {}
        }
        self.prompt = Some(if goto {
            Prompt::Goto(text)
        } else {
            Prompt::Search(text)
        });
    }

    fn goto_text(&mut self, text: &str) {
        match timefmt::parse(text) {
            Some(ns) => {
                let t = self.data.first_ns.unwrap_or(0) + ns;
                self.vp.goto(t);
            }
            None => self.status = format!("'{text}' is not a time (try 1.5ms, 300us, 2s)"),
        }
    }

    fn search_op(&mut self, text: &str) {
        let Ok(id) = text.trim().parse::<u64>() else {
            self.status = format!("'{text}' is not an op id");
            return;
        };
        match self.data.op(id).cloned() {
            Some(o) => {
                let end = end_or(&o, self.data.last_ns);
                self.vp.fit(o.begin_ns, end);
                self.vp.cursor = o.begin_ns;
                self.highlight = Highlight {
                    tids: vec![o.tid],
                    ops: vec![id],
                    folio: None,
                    window: Some((o.begin_ns, end)),
                };
                self.scroll_to_lanes(&[o.tid]);
                self.status = format!(
                    "op {id}: {} of {} B at {} on inode {}, {}",
                    o.kind.name(),
                    o.len,
                    o.offset,
                    o.ino,
                    timefmt::dur(end - o.begin_ns)
                );
            }
            None => self.status = format!("op {id} is not in the trace (or was summarised away)"),
        }
    }

    /// The kept events and ops of [t0, t1] as a trace of their own, for
    /// exporting what is on screen.
    pub fn window_trace(&self, t0: u64, t1: u64) -> Trace {
        let mut events = self.data.events_in(t0, t1);
        // Threads announced their roles before the window: bring the
        // announcements along so the export names lanes as the UI does.
        let tids: std::collections::BTreeSet<u32> = events.iter().map(|e| e.tid).collect();
        let mut roles = match t0.checked_sub(1) {
            Some(before) => self.data.events.filtered(0, before, |e| {
                e.thread_role().is_some() && tids.contains(&e.tid)
            }),
            None => Vec::new(),
        };
        roles.append(&mut events);
        let events = roles;
        let ops = lockline_harness::history::History::from_events(&events)
            .ops()
            .to_vec();
        let violations = self
            .violations
            .list
            .iter()
            .filter(|v| v.window.is_some_and(|(a, b)| b >= t0 && a <= t1))
            .map(|v| v.row.clone())
            .collect();
        Trace {
            meta: self.meta.clone(),
            events,
            ops,
            violations,
            counters: Vec::new(),
            // The UI keeps no digests; a window's export carries none.
            extents: Vec::new(),
        }
    }
}

/// Returns the heap's free pages to the system. Ingest frees many buffers
/// of a few MiB (growth, batches) that glibc keeps inside its heap below
/// its moving mmap threshold: after a 10 M-event replay about 120 MiB of
/// the process's RSS is such free space until trimmed.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and releases the allocator's own
    // free lists; it takes no pointers of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Workers by index, then the session's own thread, then background
/// threads, then unnamed ones by tid.
fn lane_order(name: &str, tid: u32) -> (u8, u64, String) {
    if let Some(n) = name.strip_prefix("worker ") {
        return (0, n.parse().unwrap_or(u64::MAX), String::new());
    }
    let rank = match name {
        "main" => 1,
        "flusher" => 2,
        "reclaim" => 3,
        "migrate" => 4,
        "compaction" => 5,
        _ => 6,
    };
    (rank, tid as u64, name.to_string())
}
