//! The driver phase's decisions: which insert of which probe list may start next, and how long
//! the phase may go without progress.

pub mod probe_chain;
pub mod stall;
