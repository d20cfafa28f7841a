//! Compiles the gRPC API (`proto/shop/v1/*.proto`) with protox, a protobuf compiler in pure
//! Rust (no `protoc` needed on any machine), generates the messages and services with
//! tonic-prost-build, and keeps the encoded descriptor set for server reflection.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "shop/v1/common.proto",
    "shop/v1/user.proto",
    "shop/v1/product.proto",
    "shop/v1/cart.proto",
    "shop/v1/order.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    // Imports (the well-known types) go in too, so reflection clients can resolve every type;
    // source info carries the comments to `grpcurl describe`.
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("shop_v1_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
