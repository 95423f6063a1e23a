//! Compiles `proto/` into `OUT_DIR` with `protox`, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../proto";
    let file = "trivy_operator/v1/operator.proto";
    println!("cargo:rerun-if-changed={proto_root}");
    let descriptors = protox::compile([file], [proto_root])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("operator_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // A scan target is large and only scans have one: the leader keeps tens of thousands
        // of audit tasks, which should not each carry room for it.
        .boxed(".trivy_operator.v1.Task.scan")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
