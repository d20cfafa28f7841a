//! The benchmark's yardstick: a bare axum server that answers every GET with the bytes of one
//! file, with no middleware, no database and no cache. `bench/run` serves the shop's own
//! `GET /api/v1/products` answer with it, so the ratio between the two is what the shop's layers
//! cost.
//!
//! Usage: `bare_handler ADDRESS FILE`

use std::{net::SocketAddr, process::ExitCode};

use axum::{Router, body::Bytes, http::header, response::IntoResponse, routing::get};

/// The same allocator as `shop-api`, so the comparison measures the shop's layers only.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_handler ADDRESS FILE");
        return ExitCode::from(2);
    };
    let Ok(address) = address.parse::<SocketAddr>() else {
        eprintln!("error: ADDRESS: {address:?} is not a socket address");
        return ExitCode::from(2);
    };
    // Shared, as the shop's cache serves it: each answer is a reference count, not a copy.
    let body = match std::fs::read(&file) {
        Ok(bytes) => Bytes::from(bytes),
        Err(error) => {
            eprintln!("error: FILE: cannot read {file}: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async move {
        let app = Router::new().fallback(get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }));
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
