//! Product images outside the database: checking and resizing their bytes ([`codec`]) and
//! keeping them in the invoices' folder or bucket ([`files`]).

pub mod codec;
pub mod files;

pub use codec::{DECODE_SLOTS, ImageRejection, Inspected, inspect, render_variants};
pub use files::BlobImageFiles;
