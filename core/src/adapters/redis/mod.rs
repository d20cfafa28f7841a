//! Redis adapters: state shared by every replica of the shop.

mod key_value;

pub use key_value::RedisKeyValue;
