//! The `shop-api` binary: everything lives in the library so tests and later transports reuse it.

/// A request allocates many small, short-lived objects across worker threads, which glibc's
/// allocator serves poorly (it showed as a fifth of the CPU time of a cached catalog request).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_api::run()
}
