//! _exit and _Exit: programs that leave without exit() (dash, forked
//! helpers, some servers) would skip the atexit unmount, and their data
//! would be lost as in a crash. The unmount runs first here, in the
//! process that mounted only.

use crate::real::real;
use crate::session;
use std::ffi::c_int;

#[no_mangle]
pub unsafe extern "C" fn _exit(code: c_int) -> ! {
    session::leave();
    unsafe { real!(_exit: fn(c_int) -> ())(code) };
    unreachable!("_exit returned")
}

#[no_mangle]
pub unsafe extern "C" fn _Exit(code: c_int) -> ! {
    session::leave();
    unsafe { real!(_Exit: fn(c_int) -> ())(code) };
    unreachable!("_Exit returned")
}
