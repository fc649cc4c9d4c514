//! The interposed functions, one file per family. Each checks first
//! whether its path or descriptor is routed and otherwise calls libc's
//! own at once; routed calls go to the engine with errno set as the
//! kernel would. Every `64` name of x86_64 glibc is the same function as
//! the plain one, so both names lead to one definition.

/// Defines each of the names as an exported C function, all with one
/// signature and one body: x86_64 glibc's plain and `64` names (and the
/// fortified `__*_2` ones) are the same function, so one hook serves all.
macro_rules! exports {
    ($($name:ident),+ : fn $params:tt -> $r:ty $body:block) => {
        $(
            #[no_mangle]
            pub unsafe extern "C" fn $name $params -> $r $body
        )+
    };
}

mod exit;
mod fd;
mod io;
mod names;
mod open;
mod refuse;
mod space;
mod stat;
mod temp;

use crate::real::fail;
use crate::session::{self, Engine};
use crate::table::{self, Desc};
use std::ffi::c_int;
use std::sync::Arc;

/// The routed file behind `fd` and the engine, or None for a real one.
/// Err(errno) when it is routed but the engine cannot serve it.
fn routed(fd: c_int) -> Option<Result<(Arc<Desc>, &'static Engine), c_int>> {
    let d = table::get(fd)?;
    Some(session::engine().map(|e| (d, e)))
}

/// A C return value from a routed call's result: the value, or -1 with
/// errno set (counted as an error served).
fn ret<T: TryInto<isize>>(r: Result<T, c_int>) -> isize {
    match r {
        Ok(v) => v.try_into().unwrap_or(isize::MAX),
        Err(e) => {
            session::count(&session::COUNTS.errors, 1);
            fail(e) as isize
        }
    }
}

/// The engine's error as errno.
fn errno(e: lockline_engine::Error) -> c_int {
    e.errno()
}

/// Hands the calling thread's probe events to the recorder after each
/// routed call: a program thread may sit idle in its own code until
/// exit, and the events of a thread that has not exited are otherwise
/// only handed over a chunk at a time.
fn flush_probes() {
    lockline_engine::probe::recorder::flush_current_thread();
}
