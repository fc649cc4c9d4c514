//! The terminal side: raw mode and the alternate screen (restored on quit,
//! on panic, on SIGINT/SIGTERM and on errors), an input thread and a clock
//! thread feeding the loop's input ahead of the sources (`inbox.rs`), and
//! the loop that applies messages and draws at most ~30 times a second.
//! The state learns the terminal's size from a `Msg::Resize` before the
//! first frame and on every resize after it, so it maps clicks with the
//! layout drawn.

use crate::event::{Key, Msg};
use crate::inbox::{Inbox, InputTx, Next};
use crate::state::{Action, App};
use crate::view;
use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as CEvent, KeyCode, KeyEventKind,
    KeyModifiers, MouseEventKind,
};
use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames at most this often.
pub const FRAME: Duration = Duration::from_millis(33);

/// Writes what is on screen: returns the line for the status bar.
pub type Exporter = Box<dyn FnMut(&App, u64, u64) -> Result<String, String>>;

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Why the UI cannot start here, if it cannot.
pub fn check_terminal() -> Result<(), String> {
    if !io::stdout().is_terminal() {
        return Err(
            "the UI needs a terminal: stdout is not one (use analyze or export for files)".into(),
        );
    }
    if !io::stdin().is_terminal() {
        return Err("the UI needs a terminal: stdin is not one".into());
    }
    Ok(())
}

fn key(k: event::KeyEvent) -> Option<Key> {
    let shift = k.modifiers.contains(KeyModifiers::SHIFT);
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left if shift => Key::ShiftLeft,
        KeyCode::Right if shift => Key::ShiftRight,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// Reads the terminal until the loop is gone or `stop` is set.
fn spawn_input(tx: InputTx, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let m = match event::read() {
                Ok(CEvent::Key(k)) if k.kind != KeyEventKind::Release => match key(k) {
                    Some(k) => Msg::Key(k),
                    None => continue,
                },
                Ok(CEvent::Mouse(m)) => match m.kind {
                    MouseEventKind::Down(_) => Msg::Click {
                        col: m.column,
                        row: m.row,
                    },
                    MouseEventKind::ScrollUp => Msg::Scroll {
                        up: true,
                        col: m.column,
                        row: m.row,
                    },
                    MouseEventKind::ScrollDown => Msg::Scroll {
                        up: false,
                        col: m.column,
                        row: m.row,
                    },
                    _ => continue,
                },
                Ok(CEvent::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            if !tx.send(m) {
                break;
            }
        }
    });
}

/// Ticks (so a paused source still redraws the clock) and signals.
fn spawn_clock(tx: Sender<Msg>, input: InputTx, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            let sent = if SIGNALLED.swap(false, Ordering::Relaxed) {
                input.send(Msg::Key(Key::CtrlC))
            } else {
                tx.send(Msg::Tick).is_ok()
            };
            if !sent {
                break;
            }
        }
    });
}

/// Runs the UI until the user quits; returns the final state.
pub fn run(
    mut app: App,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    mut exporter: Option<Exporter>,
) -> io::Result<App> {
    check_terminal().map_err(io::Error::other)?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    // ratatui::init puts the terminal in raw mode on the alternate screen
    // and installs a panic hook that restores it first.
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(io::stdout(), EnableMouseCapture);
    let stop = Arc::new(AtomicBool::new(false));
    let (inbox, input) = Inbox::new(rx, tx.clone());
    spawn_input(input.clone(), stop.clone());
    spawn_clock(tx, input, stop.clone());
    let r = (|| -> io::Result<()> {
        // The layout the first frame is drawn with; resizes after it come
        // through the channel.
        let (w, h) = crossterm::terminal::size()?;
        app.on_msg(Msg::Resize(w, h));
        let mut last = Instant::now() - FRAME;
        let mut dirty = true;
        loop {
            let wait = if dirty {
                FRAME.saturating_sub(last.elapsed())
            } else {
                Duration::from_secs(1)
            };
            match inbox.next(wait) {
                Next::Msg(m) => {
                    dirty = true;
                    // Take what is queued, but never longer than a frame:
                    // a fast source must not starve the screen.
                    let start = Instant::now();
                    let mut next = Some(m);
                    while let Some(m) = next.take() {
                        match app.on_msg(m) {
                            Some(Action::Quit) => return Ok(()),
                            Some(Action::Export(a, b)) => {
                                app.status = match exporter.as_mut() {
                                    Some(x) => x(&app, a, b)
                                        .unwrap_or_else(|e| format!("export failed: {e}")),
                                    None => "export is not available here".into(),
                                };
                            }
                            None => {}
                        }
                        if start.elapsed() < FRAME {
                            next = inbox.try_next();
                        }
                    }
                }
                Next::Timeout => {}
                Next::Closed => return Ok(()),
            }
            if dirty && last.elapsed() >= FRAME {
                terminal.draw(|f| view::draw(f, &app))?;
                last = Instant::now();
                dirty = false;
            }
        }
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = crossterm::execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    r.map(|_| app)
}
