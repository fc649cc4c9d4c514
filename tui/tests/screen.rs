//! The UI drawn into ratatui's TestBackend: each view on a synthetic
//! trace, and the deterministic hazard schedule's trace (a real dropped
//! write) from opening on its violation through the jump to its blame
//! window. Like the terminal, each draw at a size follows a
//! `Msg::Resize` to it, so clicks and steps map with the layout drawn.

use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::{synth, Trace, TraceMeta};
use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::Build;
use lockline_harness::scenario::{self, EarlyExit};
use lockline_tui::layout::Layout;
use lockline_tui::state::{App, Focus, Tab};
use lockline_tui::view::style::CURSOR_BG;
use lockline_tui::{Key, Msg};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

/// What a `w` x `h` terminal shows: the resize it sends, then a frame.
fn screen(app: &mut App, w: u16, h: u16) -> String {
    text(&frame(app, w, h))
}

fn frame(app: &mut App, w: u16, h: u16) -> Buffer {
    app.on_msg(Msg::Resize(w, h));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| lockline_tui::view::draw(f, app)).unwrap();
    t.backend().buffer().clone()
}

/// The columns drawn with the cursor's background.
fn cursor_cols(b: &Buffer) -> Vec<u16> {
    let a = b.area;
    let mut v: Vec<u16> = (0..a.height)
        .flat_map(|y| (0..a.width).map(move |x| (x, y)))
        .filter(|&p| b[p].bg == CURSOR_BG)
        .map(|(x, _)| x)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn text(b: &Buffer) -> String {
    let a = b.area;
    let mut s = String::new();
    for y in 0..a.height {
        for x in 0..a.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn key(app: &mut App, k: Key) {
    app.on_msg(Msg::Key(k));
}

fn hazard_trace() -> (Trace, scenario::HazardRun) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    mkfs(
        &path,
        &MkfsOptions {
            size: Some(64 << 20),
            force: false,
        },
    )
    .unwrap();
    let run =
        scenario::early_exit_truncate(&path, Build::Lockless, EarlyExit::NeedInodeLock).unwrap();
    assert!(run.schedule_reached);
    let meta = TraceMeta {
        build: "lockless".into(),
        workload: "hazard".into(),
        probe_source: "inproc".into(),
        ..TraceMeta::default()
    };
    let t = Trace::from_run(meta, run.events.clone(), &run.checks, Vec::new());
    (t, run)
}

#[test]
fn synthetic_trace_draws_lanes_axis_and_panes() {
    let t = synth::generate(20_000, 3, 7);
    let mut app = App::from_trace(&t, Some(analyze(&t, &AnalyzeOptions::default())));
    let s = screen(&mut app, 140, 40);
    // Lanes named, holds drawn, an axis with units, the panes' titles.
    assert!(s.contains("Timeline"), "{s}");
    assert!(
        s.lines()
            .filter(|l| l.contains('█') || l.contains('▓') || l.contains('▒'))
            .count()
            >= 3,
        "{s}"
    );
    assert!(
        s.contains("+0") && (s.contains("µs") || s.contains("ns") || s.contains("ms")),
        "{s}"
    );
    assert!(s.contains("Violations 0"), "{s}");
    assert!(s.contains("none: every checked sector"), "{s}");
    assert!(s.contains("1 Held at cursor"), "{s}");
    assert_eq!(app.focus, Focus::Timeline);
}

#[test]
fn each_detail_tab_draws() {
    let t = synth::generate(5_000, 2, 3);
    let mut app = App::from_trace(&t, Some(analyze(&t, &AnalyzeOptions::default())));
    // Put the cursor in the middle, where locks are held.
    let mid = (t.events[0].ts_ns + t.events.last().unwrap().ts_ns) / 2;
    app.vp.goto(mid);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("holds"), "{s}");
    key(&mut app, Key::Char('3'));
    assert_eq!(app.tab, Tab::Stats);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("pagecache_add") && s.contains("p99"), "{s}");
    key(&mut app, Key::Char('4'));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("whole trace:") && s.contains("truncate-without-block-lock"),
        "{s}"
    );
    key(&mut app, Key::Char('2'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("inode 2, bytes"), "{s}");
    key(&mut app, Key::Char('?'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("keys") && s.contains("blame window"), "{s}");
    key(&mut app, Key::Char('x'));
    assert!(!app.help);
}

#[test]
fn small_terminal_gets_a_message_not_garbage() {
    let t = synth::generate(1_000, 2, 1);
    let mut app = App::from_trace(&t, None);
    let s = screen(&mut app, 60, 20);
    assert!(s.contains("needs at least 80x24"), "{s}");
    // 80x24 itself draws the whole layout.
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Timeline") && s.contains("Violations"), "{s}");
}

#[test]
fn hazard_opens_on_its_violation_and_jumps_to_the_blame_window() {
    let (t, run) = hazard_trace();
    let a = analyze(&t, &AnalyzeOptions::default());
    let mut app = App::from_trace(&t, Some(a));
    // Opens with the violations focused and the first one selected.
    assert_eq!(app.focus, Focus::Violations);
    assert!(!app.violations.list.is_empty());
    assert_eq!(app.violations.selected, 0);
    let v = app.violations.current().unwrap().clone();
    assert_eq!(v.class(), "dropped");
    assert!(v.row.ops.contains(&run.e_op));
    let c = v.culprit.as_ref().expect("the analysis names the culprit");
    assert_eq!(c.op, run.n_op);
    let s = screen(&mut app, 160, 50);
    assert!(s.contains("dropped"), "{s}");
    assert!(s.contains(&format!("{}", run.e_op)), "{s}");
    let expl: String = v.row.explanation.chars().take(30).collect();
    assert!(
        s.contains(&expl),
        "explanation '{expl}' not on screen:\n{s}"
    );
    assert!(s.contains("culprit:"), "{s}");
    // Its critical path: N waited for E's folio lock, E handed it over.
    assert_eq!(v.path.len(), 1, "{:?}", v.path);
    assert!(
        s.contains(&format!("on the way: worker 1 (op {}) waited", run.n_op)),
        "{s}"
    );

    // Enter: the timeline shows the blame window, the culprit's and the
    // victim's threads highlighted, the cursor on the culprit's event.
    let fit = app.vp;
    key(&mut app, Key::Enter);
    let (b, e) = v.window.unwrap();
    assert!(
        app.vp.t0 <= b && app.vp.t1() >= e,
        "{:?} vs {b}..{e}",
        app.vp
    );
    assert!(app.vp.span < fit.span);
    assert_eq!(app.vp.cursor, c.ts_ns);
    assert!(app.highlight.tids.contains(&run.n_tid) && app.highlight.tids.contains(&run.e_tid));
    let s = screen(&mut app, 160, 50);
    assert!(s.contains('═') && s.contains('▼'), "{s}");
    // Who held what at the culprit's instant: N, in its op, holding the
    // add lock and not the inode lock.
    let at = app.data.at(c.ts_ns);
    assert!(at
        .iter()
        .any(|h| h.tid == run.n_tid && h.class == lockline_engine::probe::LockClass::PagecacheAdd));
    assert!(!at.iter().any(|h| h.tid == run.n_tid
        && h.class == lockline_engine::probe::LockClass::Inode
        && h.acquired_ns <= c.ts_ns));
    assert!(s.contains(&format!("op {}", run.n_op)), "{s}");

    // Zoom and pan change the axis.
    let axis = |s: &str| {
        s.lines()
            .find(|l| l.contains("+") && l.contains('s'))
            .map(str::to_string)
    };
    let before = axis(&s);
    key(&mut app, Key::Char('+'));
    key(&mut app, Key::Char('+'));
    let zoomed = screen(&mut app, 160, 50);
    assert_ne!(axis(&zoomed), before);
    let span = app.vp.span;
    key(&mut app, Key::ShiftRight);
    assert_eq!(app.vp.span, span);
    key(&mut app, Key::Char('0'));
    assert!(app.vp.span > span);

    // The folio lane of the violation: both ops' ranges and the folio's
    // truncation.
    key(&mut app, Key::Enter);
    key(&mut app, Key::Char('2'));
    let s = screen(&mut app, 160, 50);
    assert!(s.contains(&format!("folio {}", v.folio())), "{s}");
    assert!(s.contains('T'), "no truncation mark:\n{s}");
}

#[test]
fn the_violations_path_walks_from_victim_through_the_hand_off_to_the_culprit() {
    let (t, run) = hazard_trace();
    let a = analyze(&t, &AnalyzeOptions::default());
    let mut app = App::from_trace(&t, Some(a));
    let v = app.violations.current().unwrap().clone();
    let c = v.culprit.clone().expect("a culprit");
    // Step 1: the victim's op, its thread lit, the cursor at its start.
    key(&mut app, Key::Char(']'));
    let victim = *app.data.op(c.victim_op).expect("the victim's op");
    assert_eq!(app.vp.cursor, victim.begin_ns);
    assert_eq!(app.highlight.ops, vec![c.victim_op]);
    assert!(
        app.status.starts_with("step 1/3: victim:"),
        "{}",
        app.status
    );
    // Step 2: N's wait for the folio lock E held, both lit.
    key(&mut app, Key::Char(']'));
    let wait = &v.path[0];
    assert_eq!(app.vp.cursor, wait.at_ns);
    assert!(app.highlight.tids.contains(&run.n_tid) && app.highlight.tids.contains(&run.e_tid));
    assert!(
        app.vp.t0 <= wait.at_ns && app.vp.t1() >= wait.until_ns,
        "{:?}",
        app.vp
    );
    let s = screen(&mut app, 160, 50);
    assert!(s.contains("▶ step 2/3: worker 1"), "{s}");
    // Step 3: the culprit's event; the walk stops there, and goes back.
    key(&mut app, Key::Char(']'));
    assert_eq!(app.vp.cursor, c.ts_ns);
    key(&mut app, Key::Char(']'));
    assert_eq!(app.violations.step, Some(2));
    key(&mut app, Key::Char('['));
    assert_eq!(app.vp.cursor, wait.at_ns);
    // Choosing a violation starts the walk again.
    key(&mut app, Key::Enter);
    assert_eq!(app.violations.step, None);
}

#[test]
fn live_messages_arrive_in_batches_and_checks_add_violations() {
    let (t, run) = hazard_trace();
    let mut app = App::new(
        true,
        Some(lockline_tui::state::data::Retention {
            keep_ns: u64::MAX / 4,
            keep_events: usize::MAX / 2,
        }),
    );
    app.on_msg(Msg::Meta(Box::new(t.meta.clone())));
    for c in t.events.chunks(100) {
        app.on_msg(Msg::Events(c.to_vec().into()));
        // Following: the right edge is the newest event.
        assert!(app.vp.t1() >= app.data.last_ns);
    }
    assert_eq!(app.violations.list.len(), 0);
    let rows: Vec<_> = t
        .violations
        .iter()
        .filter(|v| v.check == "after-run")
        .cloned()
        .collect();
    app.on_msg(Msg::Check {
        label: "after-run".into(),
        round: Some(1),
        violations: rows,
    });
    assert!(!app.violations.list.is_empty());
    assert_eq!(app.focus, Focus::Violations);
    assert!(app.status.contains("round 1 after-run"));
    // Panning pauses following; End resumes it.
    key(&mut app, Key::ShiftLeft);
    assert!(!app.vp.follow);
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("PAUSED"), "{s}");
    key(&mut app, Key::End);
    assert!(app.vp.follow);
    // The run ends: the analysis of the whole trace names the culprit of
    // the violation the UI numbered on arrival.
    app.on_msg(Msg::Analysis(Box::new(analyze(
        &t,
        &AnalyzeOptions::default(),
    ))));
    let v = app.violations.current().unwrap();
    let c = v.culprit.as_ref().expect("culprit attached by content");
    assert_eq!(c.op, run.n_op);
}

#[test]
fn a_click_puts_the_cursor_in_the_column_clicked() {
    let t = synth::generate(5_000, 3, 5);
    let mut app = App::from_trace(&t, None);
    app.on_msg(Msg::Resize(200, 50));
    let l = Layout::of_size(200, 50);
    assert_eq!(app.layout, l);
    let cells = l.cells;
    assert!(cells.width > 100 && cells.height > 3, "{cells:?}");
    for col in [cells.x, cells.x + 37, cells.x + 101, cells.right() - 1] {
        app.on_msg(Msg::Click {
            col,
            row: cells.y + 1,
        });
        assert_eq!(app.focus, Focus::Timeline);
        // The time of the column the view draws there, and the view draws
        // the cursor in that column.
        assert_eq!(
            app.vp.cursor,
            app.vp.time_at(col - cells.x, cells.width),
            "col {col}"
        );
        assert_eq!(cursor_cols(&frame(&mut app, 200, 50)), vec![col]);
    }
    // Outside the cells (the lane labels, the axis): nothing moves.
    let cursor = app.vp.cursor;
    for (col, row) in [(cells.x - 1, cells.y), (cells.x + 5, cells.bottom())] {
        app.on_msg(Msg::Click { col, row });
        assert_eq!(app.vp.cursor, cursor);
    }
}

#[test]
fn a_resize_changes_where_clicks_land_and_how_far_steps_go() {
    let t = synth::generate(5_000, 3, 5);
    let mut app = App::from_trace(&t, None);
    let (col, row) = (60, 5);
    app.on_msg(Msg::Resize(200, 50));
    app.on_msg(Msg::Click { col, row });
    let wide = app.vp.cursor;
    app.on_msg(Msg::Resize(100, 30));
    let l = Layout::of_size(100, 30);
    assert_eq!(app.layout, l);
    app.on_msg(Msg::Click { col, row });
    let narrow = app.vp.cursor;
    // The same cell is a later time when the timeline is narrower.
    assert!(narrow > wide, "{narrow} vs {wide}");
    assert_eq!(narrow, app.vp.time_at(col - l.cells.x, l.cells.width));
    assert_eq!(cursor_cols(&frame(&mut app, 100, 30)), vec![col]);
    // A click where the wide timeline was and the narrow one is not.
    app.on_msg(Msg::Click { col: 150, row });
    assert_eq!(app.vp.cursor, narrow);
    // A cursor step is a cell of the timeline drawn.
    let span = app.vp.span;
    key(&mut app, Key::Right);
    assert_eq!(app.vp.cursor - narrow, app.vp.cell_ns(l.cells.width));
    assert_eq!(app.vp.span, span);
}

#[test]
fn a_wait_names_its_holder_and_enter_goes_to_it() {
    let (t, run) = hazard_trace();
    let a = analyze(&t, &AnalyzeOptions::default());
    let holds = lockline_analysis::holds_from_events(&t.events);
    // N's wait for E's folio lock (step 4 of the hazard).
    let w = holds
        .iter()
        .find(|h| h.tid == run.n_tid && h.wait_ns.is_some())
        .expect("N waited");
    let e = holds
        .iter()
        .find(|h| h.tid == run.e_tid && h.class == w.class && h.folio == w.folio)
        .expect("E held the lock N waited for");
    let mut app = App::from_trace(&t, Some(a));
    app.focus = Focus::Timeline;
    app.tab = Tab::Holders;
    // While E still holds it (N is granted the lock a little after E's
    // release: its wake-up).
    let (from, to) = (w.wait_ns.unwrap(), e.released_ns.unwrap());
    assert!(from < to, "N waited before E let go");
    app.vp.cursor = (from + to) / 2;
    let s = screen(&mut app, 160, 50);
    let line = format!("held by worker 0 (op {})", run.e_op);
    assert!(s.contains(&line), "no '{line}' on screen:\n{s}");
    key(&mut app, Key::Enter);
    assert_eq!(app.vp.cursor, e.acquired_ns, "{}", app.status);
    assert!(app.highlight.tids.contains(&run.e_tid));
    assert!(app.highlight.ops.contains(&run.e_op));
    assert!(app.status.contains("held by worker 0"), "{}", app.status);
    // The holder's hold is under the cursor now.
    let s = screen(&mut app, 160, 50);
    assert!(s.contains(&format!("op {}", run.e_op)), "{s}");
    // Where nobody waits, b says so and moves nothing.
    app.vp.cursor = e.acquired_ns;
    key(&mut app, Key::Char('b'));
    assert_eq!(app.vp.cursor, e.acquired_ns);
    assert!(app.status.contains("no thread waits"), "{}", app.status);
}
