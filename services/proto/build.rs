//! Compiles `proto/` with protox (no system protoc) and generates tonic code.
use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "repat/v1/money.proto",
        "repat/v1/revision.proto",
        "repat/v1/party.proto",
        "repat/v1/document.proto",
        "repat/v1/earning.proto",
        "repat/v1/repatriation.proto",
        "repat/v1/audit.proto",
        "repat/v1/incentive.proto",
        "repat/v1/metrics.proto",
        "repat/v1/reconciliation.proto",
        "repat/v1/events.proto",
    ];
    let descriptors = protox::compile(files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out.join("repat_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Undecodable requests are the client's error (see src/codec.rs).
        .codec_path("crate::codec::ClientErrorCodec")
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
