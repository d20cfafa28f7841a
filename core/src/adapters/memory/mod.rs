//! In-process adapters for the embedded default: state lives and dies with the process and is
//! not shared between replicas.

mod event_bus;
mod key_value;

pub use event_bus::{DEFAULT_SUBSCRIBER_CAPACITY, InProcessBus};
pub use key_value::MemoryKeyValue;
