//! The environment `lockline exec` gives its program: which directory is
//! routed into which disk, the build and knobs of the engine mounted
//! there, and where the library leaves its status and spill.

use lockline_engine::{Build, Knobs};
use std::path::{Path, PathBuf};

/// Absolute, canonical path of the routed directory.
pub const ENV_DIR: &str = "LOCKLINE_EXEC_DIR";
/// The lockline disk image the engine mounts.
pub const ENV_DISK: &str = "LOCKLINE_EXEC_DISK";
pub const ENV_BUILD: &str = "LOCKLINE_EXEC_BUILD";
/// The knobs as JSON (the same form as a trace's knobs_json).
pub const ENV_KNOBS: &str = "LOCKLINE_EXEC_KNOBS";
/// Directory where each process that mounted the engine leaves
/// `<pid>.status.json` and, when recording, `<pid>.spill`.
pub const ENV_OUT: &str = "LOCKLINE_EXEC_OUT";
/// "1": record probe events and digests.
pub const ENV_RECORD: &str = "LOCKLINE_EXEC_RECORD";
/// "1": a call on a routed file that the library does not serve is
/// reported on stderr as it happens, and fails the run.
pub const ENV_STRICT: &str = "LOCKLINE_EXEC_STRICT";

/// Everything the library needs to mount the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub dir: PathBuf,
    pub disk: PathBuf,
    pub build: Build,
    pub knobs: Knobs,
    pub out: PathBuf,
    pub record: bool,
    pub strict: bool,
}

impl Config {
    /// The variables to set in the program's environment.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (ENV_DIR, self.dir.display().to_string()),
            (ENV_DISK, self.disk.display().to_string()),
            (ENV_BUILD, self.build.name().to_string()),
            (
                ENV_KNOBS,
                serde_json::to_string(&self.knobs).expect("knobs serialise"),
            ),
            (ENV_OUT, self.out.display().to_string()),
            (ENV_RECORD, (self.record as u8).to_string()),
            (ENV_STRICT, (self.strict as u8).to_string()),
        ]
    }

    /// Reads the configuration back with `get` (the library passes a
    /// getenv that takes no lock). None when the routed directory is not
    /// set: the library then routes nothing.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Config>, String> {
        let Some(dir) = get(ENV_DIR) else {
            return Ok(None);
        };
        let need = |k: &str| get(k).ok_or_else(|| format!("{k} is not set"));
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() || dir == Path::new("/") {
            return Err(format!(
                "{ENV_DIR} must be an absolute directory other than /, not {}",
                dir.display()
            ));
        }
        let build = need(ENV_BUILD)?.parse::<Build>()?;
        let knobs: Knobs =
            serde_json::from_str(&need(ENV_KNOBS)?).map_err(|e| format!("{ENV_KNOBS}: {e}"))?;
        Ok(Some(Config {
            dir,
            disk: need(ENV_DISK)?.into(),
            build,
            knobs,
            out: need(ENV_OUT)?.into(),
            record: get(ENV_RECORD).as_deref() == Some("1"),
            strict: get(ENV_STRICT).as_deref() == Some("1"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_environment_carries_the_config_whole() {
        let mut knobs = Knobs {
            short_copy_rate: 0.25,
            ..Knobs::default()
        };
        knobs.inject.migrate_without_folio_lock = true;
        let c = Config {
            dir: "/tmp/routed".into(),
            disk: "/tmp/d.img".into(),
            build: Build::LocklessMin,
            knobs,
            out: "/tmp/out".into(),
            record: true,
            strict: false,
        };
        let env: HashMap<_, _> = c.to_env().into_iter().collect();
        let back = Config::from_env(|k| env.get(k).cloned()).unwrap().unwrap();
        assert_eq!(back, c);
        assert_eq!(Config::from_env(|_| None), Ok(None));
        let bad = |k: &str| match k {
            ENV_DIR => Some("relative".to_string()),
            _ => env.get(k).cloned(),
        };
        assert!(Config::from_env(bad).unwrap_err().contains("absolute"));
    }
}
