//! What decoding finds: nodes, properties and values the model has no place for.

mod nodes;
mod values;

pub use nodes::*;
pub use values::*;
