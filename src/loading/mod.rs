//! The driver phase's decisions: what it loads besides devices' drivers, which insert of which
//! probe list may start next, how long the phase may go without progress, and how long its end
//! waits for hubs still enumerating.

pub mod boot_classes;
pub mod enumeration;
pub mod named;
pub mod probe_chain;
pub mod stall;
