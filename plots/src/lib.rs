//! Plots of a trace with plotters: violation lock timelines, hold-time
//! CDFs, throughput over time.
