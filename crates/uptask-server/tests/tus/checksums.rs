//! Checksums (the tus checksum extension): a body counts only once its checksum holds, on
//! the bucket too, where its parts go to the store before the checksum can be checked.

use super::*;

on_both_stores!(
    checksums_are_verified_and_a_mismatch_keeps_nothing,
    a_checksum_over_several_parts_is_verified_before_any_part_counts,
);

async fn checksums_are_verified_and_a_mismatch_keeps_nothing(on: On) {
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let url = tus.create(&[("Upload-Length", "6")]).await;
    let good = format!("sha256 {}", b64(&Sha256::digest(b"abc")));
    let bad = format!("sha1 {}", b64(&sha1::Sha1::digest(b"not abc")));
    let a = tus
        .patch(&url, 0, b"abc", &[("Upload-Checksum", &bad)])
        .await;
    assert_eq!(a.status.as_u16(), 460);
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.get("upload-offset"),
        Some("0")
    );
    let a = tus
        .patch(&url, 0, b"abc", &[("Upload-Checksum", "md5 AAAA")])
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = tus
        .patch(&url, 0, b"abc", &[("Upload-Checksum", &good)])
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let sha1 = format!("sha1 {}", b64(&sha1::Sha1::digest(b"def")));
    let a = tus
        .patch(&url, 3, b"def", &[("Upload-Checksum", &sha1)])
        .await;
    assert_eq!(a.get("upload-offset"), Some("6"));
}

async fn a_checksum_over_several_parts_is_verified_before_any_part_counts(on: On) {
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let Some(tus) = Tusd::on(on, |c| c) else {
        return;
    };
    let data: Vec<u8> = (0..(11u32 << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let first = &data[..6 << 20];
    let url = tus
        .create(&[("Upload-Length", &data.len().to_string())])
        .await;
    // Over one 5 MiB part, with a wrong checksum: not a byte counts.
    let bad = format!("sha256 {}", b64(&Sha256::digest(b"other bytes")));
    let a = tus
        .patch(&url, 0, first, &[("Upload-Checksum", &bad)])
        .await;
    assert_eq!(a.status.as_u16(), 460);
    assert_eq!(
        tus.send("HEAD", &url, &[], b"").await.get("upload-offset"),
        Some("0")
    );
    let good = format!("sha256 {}", b64(&Sha256::digest(first)));
    let a = tus
        .patch(&url, 0, first, &[("Upload-Checksum", &good)])
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.get("upload-offset"), Some("6291456"));
    let a = tus.patch(&url, 6 << 20, &data[6 << 20..], &[]).await;
    assert_eq!(a.get("upload-offset"), Some("11534336"));
    tus.assert_published_alone(&data);
}

fn sha256_header(data: &[u8]) -> String {
    use base64::Engine;
    let digest = Sha256::digest(data);
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

const MIB: usize = 1 << 20;

/// The parts of the one multipart upload in progress, as numbers and sizes.
fn parts_stored() -> Vec<(u64, u64)> {
    let (_, listing) = weed::uploads_listed(BUCKET);
    let field = |text: &str, name: &str| {
        let open = format!("<{name}>");
        text.split(open.as_str())
            .nth(1)
            .and_then(|t| t.split(&format!("</{name}>")).next())
            .map(str::to_owned)
    };
    let (Some(key), Some(id)) = (field(&listing, "Key"), field(&listing, "UploadId")) else {
        return Vec::new();
    };
    let (status, body) = weed::raw(
        "GET",
        &format!("/{BUCKET}/{key}"),
        &[("uploadId", id.as_str())],
        &weed::creds(),
    );
    assert_eq!(status, 200, "cannot list the parts of {key}");
    String::from_utf8_lossy(&body)
        .split("<Part>")
        .skip(1)
        .filter_map(|p| {
            let number = field(p, "PartNumber")?.parse().ok()?;
            let size = field(p, "Size")?.parse().ok()?;
            Some((number, size))
        })
        .collect()
}

async fn offset_of(tus: &Tusd, url: &str) -> usize {
    let a = tus.send("HEAD", url, &[], b"").await;
    a.get("upload-offset").unwrap().parse().unwrap()
}

/// A PATCH whose body comes from `rx`, running on its own; its status once it ends.
fn streamed_patch(
    tus: &Tusd,
    url: &str,
    offset: usize,
    checksum: &str,
    rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> tokio::task::JoinHandle<StatusCode> {
    let req = Request::patch(url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .header("Upload-Checksum", checksum)
        .body(Body::from_stream(tokio_stream(rx)))
        .unwrap();
    let router = tus.router.clone();
    tokio::spawn(async move { router.oneshot(req).await.unwrap().status() })
}

/// Waits (at most 20 s) until the store lists `n` more full parts than `before` (SeaweedFS
/// lists every version of a part stored twice, so a count is what shows a new one).
async fn wait_for_parts(before: usize, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let parts = tokio::task::spawn_blocking(full_parts).await.unwrap();
        if parts >= before + n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} more parts than {before} not stored within 20 s: {parts}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn full_parts() -> usize {
    parts_stored()
        .into_iter()
        .filter(|(_, size)| *size == 5 << 20)
        .count()
}

async fn feed(tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>, bytes: &[u8]) {
    for chunk in bytes.chunks(MIB) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(chunk)))
            .await
            .unwrap();
    }
}

/// On a bucket, the parts of a request with a checksum go to the store as they fill; until the
/// checksum holds they count nowhere: not after a mismatch, not in a HEAD while the request
/// runs, not after the request died, and the wrong bytes of a dead request never reach the
/// file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_bucket_parts_sent_before_the_checksum_count_only_once_it_holds() {
    let Some(tus) = Tusd::on(On::Bucket, |c| c) else {
        return;
    };
    let data: Vec<u8> = (0..16 * MIB).map(|i| (i * 13 % 251) as u8).collect();
    let url = tus
        .create(&[("Upload-Length", &data.len().to_string())])
        .await;
    // 3 MiB without a checksum wait in `.part` for the rest of part 1.
    let a = tus.patch(&url, 0, &data[..3 * MIB], &[]).await;
    assert_eq!(a.get("upload-offset"), Some("3145728"));

    // 9 MiB more under a wrong checksum fill parts 1 and 2, which the store then holds.
    let wrong = sha256_header(b"other bytes");
    let a = tus
        .patch(
            &url,
            3 << 20,
            &data[3 * MIB..12 * MIB],
            &[("Upload-Checksum", &wrong)],
        )
        .await;
    assert_eq!(a.status.as_u16(), 460);
    assert_eq!(offset_of(&tus, &url).await, 3 * MIB, "after a mismatch");

    // The same bytes under the right checksum, the body pausing once both parts are stored.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let right = sha256_header(&data[3 * MIB..12 * MIB]);
    let before = full_parts();
    let running = streamed_patch(&tus, &url, 3 * MIB, &right, rx);
    feed(&tx, &data[3 * MIB..11 * MIB]).await;
    wait_for_parts(before, 2).await;
    assert_eq!(offset_of(&tus, &url).await, 3 * MIB, "while it is checked");
    feed(&tx, &data[11 * MIB..12 * MIB]).await;
    drop(tx);
    assert_eq!(running.await.unwrap(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&tus, &url).await, 12 * MIB);

    // A request that dies after the store took part 3 of zeros (its checksum names the
    // source): the offset stays, and once the lock's lease ends the upload goes on.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let before = full_parts();
    let dying = streamed_patch(&tus, &url, 12 * MIB, &sha256_header(&data[12 * MIB..]), rx);
    feed(&tx, &vec![0u8; 4 * MIB]).await;
    wait_for_parts(before, 1).await;
    dying.abort();
    let _ = dying.await;
    assert_eq!(
        offset_of(&tus, &url).await,
        12 * MIB,
        "after the request died"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let checksum = sha256_header(&data[12 * MIB..]);
    let last = loop {
        let a = tus
            .patch(
                &url,
                12 << 20,
                &data[12 * MIB..],
                &[("Upload-Checksum", &checksum)],
            )
            .await;
        if a.status != StatusCode::LOCKED {
            break a;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dead request's lock outlived 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(last.status, StatusCode::NO_CONTENT);
    assert_eq!(last.get("upload-offset"), Some("16777216"));
    tus.assert_published_alone(&data);
}
