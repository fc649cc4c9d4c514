//! Which paths the library routes into the engine: those that lie in the
//! routed directory once made absolute and cleaned of "." and "..", the
//! way the kernel's path walk would reach them (symlinks are not
//! followed: a path that reaches the directory through one is not routed,
//! and what it writes lands in a placeholder, which the parent reports).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Where a path goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Outside the routed directory: the real call.
    Real,
    /// Inside: the engine's path ("/" for the directory itself).
    Engine(String),
    /// Inside, but a name the engine cannot store (not UTF-8).
    BadName,
}

/// Routes `path` (relative paths against `base`, the cwd or an openat
/// directory) for the routed directory `dir` (absolute and clean).
pub fn route(dir: &Path, base: impl FnOnce() -> Option<PathBuf>, path: &[u8]) -> Route {
    let p = Path::new(OsStr::from_bytes(path));
    // The common case costs no allocation: an absolute path with no ".."
    // that does not start with the directory.
    if p.is_absolute() && !p.starts_with(dir) && !path.windows(2).any(|w| w == b"..") {
        return Route::Real;
    }
    let mut abs = if p.is_absolute() {
        PathBuf::from("/")
    } else {
        match base() {
            Some(b) => b,
            None => return Route::Real,
        }
    };
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => abs = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                abs.pop();
            }
            Component::Normal(n) => abs.push(n),
        }
    }
    let Ok(rest) = abs.strip_prefix(dir) else {
        return Route::Real;
    };
    let Some(rest) = rest.to_str() else {
        return Route::BadName;
    };
    Route::Engine(format!("/{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str, cwd: &str) -> Route {
        route(Path::new("/tmp/d"), || Some(cwd.into()), path.as_bytes())
    }

    #[test]
    fn paths_in_the_directory_go_to_the_engine_and_no_others() {
        assert_eq!(r("/tmp/d/a.img", "/"), Route::Engine("/a.img".into()));
        assert_eq!(r("/tmp/d", "/"), Route::Engine("/".into()));
        assert_eq!(r("/tmp/d/", "/"), Route::Engine("/".into()));
        assert_eq!(r("/tmp/dx/a", "/"), Route::Real);
        assert_eq!(r("/tmp/x/../d/s/./f", "/"), Route::Engine("/s/f".into()));
        assert_eq!(r("/tmp/d/../e", "/"), Route::Real);
        assert_eq!(r("f", "/tmp/d/s"), Route::Engine("/s/f".into()));
        assert_eq!(r("../d/f", "/tmp/e"), Route::Engine("/f".into()));
        assert_eq!(r("f", "/home"), Route::Real);
        assert_eq!(r("/etc/passwd", "/tmp/d"), Route::Real);
        assert_eq!(r("../../..", "/tmp/d"), Route::Real);
        assert_eq!(
            route(Path::new("/tmp/d"), || None, b"f"),
            Route::Real,
            "no cwd: nothing to route against"
        );
        assert_eq!(
            route(Path::new("/tmp/d"), || None, b"/tmp/d/\xff"),
            Route::BadName
        );
    }
}
