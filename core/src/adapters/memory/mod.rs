//! In-process adapters for the embedded default: state lives and dies with the process and is
//! not shared between replicas.

mod key_value;

pub use key_value::MemoryKeyValue;
