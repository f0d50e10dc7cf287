//! Asset bytes in an S3-compatible bucket, through the same code path a cloud bucket uses
//! (object_store's S3 client, SigV4, path-style): against moto's server for put, multipart put,
//! ranged get, presigned URLs, the local cache and delete; and against a local server that
//! answers S3's documented error bodies, for the errors a store returns (missing bucket,
//! access denied, throttling), each mapped to a clear error.

use std::time::Duration;

use adforge::store::objects::{ObjectError, Objects, PART_BYTES};
use futures::StreamExt;

use crate::support::OwnMoto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_through_an_s3_server() {
    let moto = OwnMoto::start();
    moto.bucket("adforge-test").await;
    let cache = tempfile::tempdir().unwrap();
    let objects = Objects::from_url(
        "s3://adforge-test/assets",
        &moto.settings(),
        cache.path().to_path_buf(),
    )
    .unwrap();
    assert!(objects.is_remote());
    let small = objects.location("o1/a-small.txt", std::path::Path::new("/unused"));
    assert_eq!(small, "s3://adforge-test/assets/o1/a-small.txt");
    objects.put(&small, b"hello bucket").await.unwrap();
    assert_eq!(objects.read(&small).await.unwrap(), b"hello bucket");

    // A file larger than two parts goes up as a multipart upload, streamed from disk.
    let big_len = 2 * PART_BYTES + 12_345;
    let content: Vec<u8> = (0..big_len).map(|i| (i * 7 % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("render.mp4");
    std::fs::write(&file, &content).unwrap();
    let big = objects.location("o1/b-render.mp4", std::path::Path::new("/unused"));
    assert_eq!(objects.put_file(&big, &file).await.unwrap(), big_len as u64);
    assert_eq!(objects.size(&big).await.unwrap(), big_len as u64);

    // Ranged reads across a part boundary.
    let start = PART_BYTES as u64 - 10;
    let mut stream = objects.stream_range(&big, start, 30).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, content[start as usize..start as usize + 30]);

    // A presigned URL reads it with no credentials at all.
    let url = objects
        .presign(&big, Duration::from_secs(300))
        .await
        .unwrap()
        .expect("a bucket presigns");
    assert!(url.contains("X-Amz-Signature"), "{url}");
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().len(), big_len);

    // Files a decoder opens are fetched once into the cache.
    let local = objects.local_file(&big, "b-render").await.unwrap();
    assert!(local.starts_with(cache.path()));
    assert_eq!(std::fs::read(&local).unwrap(), content);
    let leftovers: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no partial file is left in the cache");

    objects.delete(&big).await.unwrap();
    objects.delete(&big).await.unwrap();
    assert!(matches!(
        objects.read(&big).await,
        Err(ObjectError::Missing(_))
    ));

    // A bucket that does not exist is named as such.
    let missing =
        Objects::from_url("s3://no-such-bucket", &moto.settings(), cache.path().into()).unwrap();
    let location = missing.location("x/y", std::path::Path::new("/unused"));
    let err = missing.put(&location, b"x").await.unwrap_err();
    assert!(matches!(err, ObjectError::NoBucket(_)), "{err}");
    assert!(err.to_string().contains("no-such-bucket"), "{err}");
}

/// A local server that answers every request with one S3 error.
async fn failing_s3(status: u16, code: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
             <Message>{code} from the test server</Message><RequestId>r1</RequestId></Error>"
        );
        (
            axum::http::StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/xml")],
            body,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_errors_are_mapped_to_clear_errors() {
    let cache = tempfile::tempdir().unwrap();
    for (status, code, expect) in [
        (403, "AccessDenied", "refused access"),
        (503, "SlowDown", "throttling"),
    ] {
        let endpoint = failing_s3(status, code).await;
        let settings = adforge::store::objects::S3Settings {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some(adforge::secret::Secret::new("test")),
            max_retries: 1,
            retry_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let objects = Objects::from_url("s3://b/p", &settings, cache.path().into()).unwrap();
        let location = objects.location("o/k", std::path::Path::new("/unused"));
        let err = objects.read(&location).await.unwrap_err();
        assert!(err.to_string().contains(expect), "{code}: {err}");
        let transient = err.is_transient();
        assert_eq!(transient, status == 503, "{code}: {err}");
    }
    let err =
        Objects::from_url("gs://bucket", &Default::default(), cache.path().into()).unwrap_err();
    assert!(err.to_string().contains("s3://"), "{err}");
}
