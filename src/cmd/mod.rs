pub mod analyze;
pub mod demo;
pub mod export;
pub mod fsck;
pub mod kernel;
pub mod mkfs;
pub mod probes;
pub mod run;
