//! What the checks find, one file per family of rules (as in `check/`): each problem's
//! code, severity, message, label and help, declared together.

mod gateway;
mod hardware;
mod host;
mod numbers;
mod ports;
mod profiles;
mod references;
mod security;
mod size;
mod units;

pub use gateway::*;
pub use hardware::*;
pub use host::*;
pub use numbers::*;
pub use ports::*;
pub use profiles::*;
pub use references::*;
pub use security::*;
pub use size::*;
pub use units::*;
