//! Plot errors, one line each.

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("no font for plot labels: {0}")]
    Font(String),
    #[error("the trace has no violation {0} in its final check")]
    NoViolation(u32),
    #[error("violation {0}: none of its ops is in the trace")]
    NoWindow(u32),
    #[error("drawing {path}: {detail}")]
    Draw { path: String, detail: String },
}
