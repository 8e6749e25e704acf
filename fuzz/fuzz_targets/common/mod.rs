//! What the server fuzz targets share: one runtime and one storage directory per process.

use std::sync::OnceLock;

pub struct Fixture {
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        dir: tempfile::tempdir().expect("tempdir"),
    })
}
