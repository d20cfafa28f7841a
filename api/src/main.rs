//! The `shop-api` binary: everything lives in the library so tests and later transports reuse it.

fn main() -> std::process::ExitCode {
    shop_api::run()
}
