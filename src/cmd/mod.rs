pub mod demo;
pub mod fsck;
pub mod mkfs;
pub mod probes;
pub mod run;
