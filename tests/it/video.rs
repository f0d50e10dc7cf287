//! The timeline renderer and `/v1/videos` against real ffmpeg, fonts and RIFE weights: every
//! video format renders to an exact H.264 file (ffprobe); layers animate; video backgrounds and
//! layers play; RIFE fills interpolated frames; a cancel stops at the next frame and leaves no
//! file; the API renders, serves ranges, streams progress and refuses bad input before any job
//! exists; `adforge render` killed mid-render resumes and finishes every job once; and a 60 s
//! render's memory stays bounded (in a child process).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use adforge::media::compositor::{Compositor, FontLibrary};
use adforge::media::decoder::VideoDecoder;
use adforge::media::encoder::{EncoderSettings, Frame, VideoEncoder};
use adforge::media::formats;
use adforge::media::timeline::{self, Inputs, RenderError, RenderOptions, RenderProgress};
use serde_json::{Value, json};

use crate::encoder::{ffprobe, number, stream, top_level_boxes};
use crate::support::{self, StoreKind, TestDb, TestServer, send, wait_for};

fn compositor() -> Compositor {
    Compositor::new(FontLibrary::bundled())
}

/// Four clips joined by every transition, with Ken Burns, motions and all text layers.
fn showcase(fps: u32, scale: f64) -> Value {
    json!({
        "fps": fps,
        "scale": scale,
        "brand": {"primary": "#0B5FFF", "secondary": "#FFB800"},
        "clips": [
            {"duration": 1.5, "ken_burns": {"zoom_from": 1.0, "zoom_to": 1.3, "from": [0.3, 0.3], "to": [0.7, 0.6]},
             "layers": [{"type": "title", "text": "Run further", "enter": "pop", "exit": "fade"}],
             "transition": {"type": "crossfade", "duration": 0.5}},
            {"duration": 1.5, "background": {"type": "color", "color": "#202030"},
             "layers": [{"type": "title", "text": "Light shoes", "enter": "slide_up"},
                        {"type": "body", "text": "Made for long days", "enter": "fade", "delay": 0.2}],
             "transition": {"type": "slide", "direction": "left", "duration": 0.5}},
            {"duration": 1.5, "background": {"type": "gradient", "from": "#FF0055", "to": "#220011", "angle": 45},
             "layers": [{"type": "title", "text": "Free returns", "enter": "slide_left", "exit": "slide_right"}],
             "transition": {"type": "wipe", "direction": "up", "duration": 0.5}},
            {"duration": 1.5,
             "layers": [{"type": "title", "text": "Shop the drop"}, {"type": "cta", "text": "Shop now", "enter": "pop"}],
             "transition": null}
        ]
    })
}

/// Renders a spec into `dir` at `format_id`; the encoded video.
fn render(
    spec: &Value,
    format_id: &str,
    inputs: &Inputs,
    dir: &Path,
    cancel: &AtomicBool,
    progress: &(dyn Fn(RenderProgress) + Sync),
) -> Result<adforge::media::encoder::EncodedVideo, RenderError> {
    let spec = timeline::parse(spec.clone()).unwrap();
    spec.check(100_000).unwrap();
    let format = formats::find(format_id).unwrap();
    let compositor = compositor();
    let rife = support::model_cache().join("rife-3.9");
    let rife = spec
        .interpolate
        .as_ref()
        .map(|_| adforge::engine::video::Rife::load(&rife, &candle_core::Device::Cpu).unwrap());
    let options = RenderOptions {
        compositor: &compositor,
        rife: rife.as_ref(),
        encoder: EncoderSettings::default(),
        cancel,
        progress,
        progress_every: Duration::ZERO,
    };
    timeline::render(
        &spec,
        format,
        inputs,
        &dir.join(format!("{format_id}.mp4")),
        &options,
    )
}

/// The file is H.264 yuv420p at the size, rate and frame count, and streams (moov first).
fn check_mp4(path: &Path, (width, height): (u32, u32), fps: u32, frames: u64) {
    let probe = ffprobe(path);
    let v = stream(&probe, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(width.into()), Some(height.into()))
    );
    assert_eq!(v["r_frame_rate"], format!("{fps}/1"));
    assert_eq!(number(&v["nb_read_frames"]) as u64, frames);
    let expected = frames as f64 / f64::from(fps);
    let duration = number(&v["duration"]);
    assert!(
        (duration - expected).abs() <= 1.0 / f64::from(fps),
        "{duration} vs {expected}"
    );
    let boxes = top_level_boxes(path);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "moov after mdat: {boxes:?}");
}

fn frames_of(path: &Path, width: u32, height: u32) -> Vec<image::RgbaImage> {
    let mut decoder = VideoDecoder::open(path, width, height).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        frames.push(frame.image);
    }
    frames
}

fn mean_abs_diff(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn a_spec_renders_exactly_at_every_video_format() {
    let dir = tempfile::tempdir().unwrap();
    let spec = showcase(12, 0.25);
    let parsed = timeline::parse(spec.clone()).unwrap();
    // 4 clips of 1.5 s overlapping by three 0.5 s transitions: 4.5 s, 54 frames.
    assert_eq!(parsed.frames(), 54);
    let cancel = AtomicBool::new(false);
    for (id, size) in [
        ("meta_reels", (270, 480)),
        ("meta_feed_square", (270, 270)),
        ("meta_feed_portrait", (270, 338)),
        ("youtube_landscape", (480, 270)),
    ] {
        let video = render(&spec, id, &Inputs::default(), dir.path(), &cancel, &|_| {}).unwrap();
        check_mp4(&video.path, size, 12, 54);
        assert!(video.poster.is_file() && video.preview.is_none());
    }
    // Layers move: the pop-in title changes the frames of the first clip's first half second,
    // the transitions change the frames between clips, and a held moment stays still.
    let frames = frames_of(&dir.path().join("meta_reels.mp4"), 270, 480);
    assert_eq!(frames.len(), 54);
    assert!(
        mean_abs_diff(&frames[0], &frames[5]) > 2.0,
        "the title pops in"
    );
    assert!(
        mean_abs_diff(&frames[13], &frames[17]) > 10.0,
        "crossfade into clip 2"
    );
    let still = mean_abs_diff(&frames[20], &frames[21]);
    assert!(
        still < 1.5,
        "clip 2 holds still once its layers are in: {still}"
    );
}

/// A 1 s clip: red for its first half, green for its second, at 64x64 and 10 fps.
fn red_then_green(path: &Path) {
    let (encoder, sender) = VideoEncoder::start(path, EncoderSettings::new(64, 64, 10)).unwrap();
    for i in 0..10 {
        let rgb = if i < 5 { [220, 20, 20] } else { [20, 200, 40] };
        let rgba = (0..64 * 64)
            .flat_map(|_| [rgb[0], rgb[1], rgb[2], 255])
            .collect();
        sender.send(Frame { rgba }).unwrap();
    }
    encoder.finish(sender).unwrap();
}

#[test]
fn video_backgrounds_and_layers_play() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    red_then_green(&clip);
    let spec = json!({"fps": 10, "scale": 0.25, "clips": [
        {"duration": 1.5, "background": {"type": "video", "asset": "bg"},
         "layers": [{"type": "title", "text": "Watch it"}, {"type": "video", "asset": "bg", "start": 0.5}]}
    ]});
    let inputs = Inputs {
        videos: [("bg".to_string(), clip)].into(),
        ..Inputs::default()
    };
    let cancel = AtomicBool::new(false);
    let video = render(&spec, "meta_reels", &inputs, dir.path(), &cancel, &|_| {}).unwrap();
    check_mp4(&video.path, (270, 480), 10, 15);
    let frames = frames_of(&video.path, 270, 480);
    let corner = |f: &image::RgbaImage| f.get_pixel(3, 3).0;
    let red = |p: [u8; 4]| p[0] > 150 && p[1] < 80;
    let green = |p: [u8; 4]| p[1] > 150 && p[0] < 80;
    assert!(red(corner(&frames[1])), "{:?}", corner(&frames[1]));
    assert!(green(corner(&frames[7])), "{:?}", corner(&frames[7]));
    // Held on its last frame after the end.
    assert!(green(corner(&frames[14])));
}

/// Coloured blocks on a grey field: texture that shows where it moves.
fn blocks(width: u32, height: u32) -> image::DynamicImage {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        let (bx, by) = (x / 24, y / 24);
        let h = bx.wrapping_mul(73_856_093) ^ by.wrapping_mul(19_349_663);
        if h % 3 == 0 {
            image::Rgba([
                (h % 251) as u8,
                (h / 7 % 253) as u8,
                (h / 49 % 255) as u8,
                255,
            ])
        } else {
            image::Rgba([128, 128, 128, 255])
        }
    });
    image::DynamicImage::ImageRgba8(image)
}

#[test]
fn rife_fills_the_frames_between_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = json!({"fps": 8, "scale": 0.125, "interpolate": {"factor": 2}, "clips": [
        {"duration": 1.0, "ken_burns": {"zoom_from": 1.6, "zoom_to": 1.6, "from": [0.25, 0.5], "to": [0.75, 0.5]},
         "background": {"type": "image", "asset": "texture"}}
    ]});
    let inputs = Inputs {
        images: [("texture".to_string(), blocks(600, 1000))].into(),
        ..Inputs::default()
    };
    let cancel = AtomicBool::new(false);
    let video = render(&spec, "meta_reels", &inputs, dir.path(), &cancel, &|_| {}).unwrap();
    check_mp4(&video.path, (136, 240), 8, 8);
    let interpolated = frames_of(&video.path, 136, 240);
    spec["interpolate"] = Value::Null;
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = render(
        &spec,
        "meta_reels",
        &inputs,
        plain_dir.path(),
        &cancel,
        &|_| {},
    )
    .unwrap();
    let drawn = frames_of(&plain.path, 136, 240);
    // Keys (even frames) are drawn; odd frames come from RIFE, nearer the drawn frame than a
    // plain blend of the keys is. (Frames 3 and 5 lie near the middle of their keys on the
    // eased pan; frame 1 sits at a quarter, where neither guess at the middle is right.)
    assert!(mean_abs_diff(&interpolated[2], &drawn[2]) < 2.0);
    for odd in [3, 5] {
        let rife = mean_abs_diff(&interpolated[odd], &drawn[odd]);
        let blend = image::RgbaImage::from_fn(136, 240, |x, y| {
            let (a, b) = (
                drawn[odd - 1].get_pixel(x, y).0,
                drawn[odd + 1].get_pixel(x, y).0,
            );
            image::Rgba(std::array::from_fn(|c| {
                ((u16::from(a[c]) + u16::from(b[c])) / 2) as u8
            }))
        });
        let blended = mean_abs_diff(&blend, &drawn[odd]);
        assert!(
            rife < blended,
            "frame {odd}: rife {rife} vs blend {blended}"
        );
    }
}

#[test]
fn cancel_stops_at_the_next_frame_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = showcase(12, 0.25);
    let cancel = AtomicBool::new(false);
    let last = AtomicU64::new(0);
    let progress = |p: RenderProgress| {
        last.store(p.frames_done, Ordering::SeqCst);
        if p.frames_done == 10 {
            cancel.store(true, Ordering::SeqCst);
        }
    };
    let result = render(
        &spec,
        "meta_reels",
        &Inputs::default(),
        dir.path(),
        &cancel,
        &progress,
    );
    assert!(matches!(result, Err(RenderError::Cancelled)), "{result:?}");
    assert_eq!(
        last.load(Ordering::SeqCst),
        10,
        "no frame was sent after the cancel"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

async fn upload(
    server: &TestServer,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    send(
        server
            .client
            .post(server.url(&format!("/api/assets?name={name}")))
            .bearer_auth(&server.admin_key)
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 5) as u8, 40, (y * 5) as u8, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn job_count(server: &TestServer) -> usize {
    let (status, body) = send(server.get("/api/jobs?limit=100")).await;
    assert_eq!(status, 200, "{body}");
    body["jobs"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn the_videos_api_renders_serves_and_refuses() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = support::open_queue(
        support::QueueKind::Embedded,
        &db.store,
        &support::fast_settings(),
    )
    .await;
    let server = TestServer::start(db.store.clone(), queue).await;
    let (status, logo) = upload(&server, "logo.png", "image/png", png(40, 20)).await;
    assert_eq!(status, 201, "{logo}");
    // An upload is checked for what it claims: text or random bytes named a PNG, a JPEG named
    // a PNG, a header claiming 30000 x 30000 pixels, a "font" that does not parse and a video
    // without its container's signature are refused with 400 naming the body and why.
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(8, 8)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let random: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (name, kind, bytes, needle) in [
        (
            "broken.png",
            "image/png",
            b"not an image!".to_vec(),
            "not a png image",
        ),
        ("random.png", "image/png", random.clone(), "not a png image"),
        ("photo.png", "image/png", jpeg.into_inner(), "not the png"),
        (
            "bomb.png",
            "image/png",
            png_header_only(30_000),
            "30000x30000 is above the limit",
        ),
        ("brand.ttf", "font/ttf", random.clone(), "font"),
        (
            "clip.mp4",
            "video/mp4",
            random,
            "does not start like video/mp4",
        ),
    ] {
        let (status, body) = upload(&server, name, kind, bytes).await;
        assert_eq!(status, 400, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("body: ") && message.contains(needle),
            "{name}: {message}"
        );
    }
    let (status, body) = upload(&server, "x.exe", "application/x-msdownload", vec![1, 2, 3]).await;
    assert_eq!(status, 415, "{body}");
    // Files that reach the store another way (an older upload, a job's output) are still
    // checked where they are used.
    let (_, me) = send(server.get("/api/users/me")).await;
    let owner = me["owner_id"].as_str().unwrap().to_string();
    let stored = |name: &'static str, bytes: Vec<u8>| {
        let assets = server.orchestrator.assets.clone();
        let owner = owner.clone();
        async move {
            let row = assets
                .put(
                    &owner,
                    "test-upload",
                    name,
                    "image/png",
                    &bytes,
                    adforge::store::now_ms(),
                )
                .await
                .unwrap();
            json!({"id": row.id})
        }
    };
    let garbage = stored("broken.png", b"not an image".to_vec()).await;

    let request = json!({
        "copy": {"headline": "Run further", "body": "Light shoes for long days", "cta": "Shop now"},
        "logo": logo["id"], "seconds": 6.0, "fps": 10, "scale": 0.25,
        "formats": ["meta_reels", "meta_feed_square"],
    });
    let (status, job) = send(server.post("/v1/videos", &request)).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_for(Duration::from_secs(120), "the video job", || async {
        let (_, job) = send(server.get(&format!("/v1/videos/{id}"))).await;
        (job["state"] == "succeeded" || job["state"] == "failed").then_some(job)
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let videos = done["result"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2);
    assert_eq!(done["result"]["frames"], 60);

    let content = |query: &str| {
        server
            .client
            .get(server.url(&format!("/v1/videos/{id}/content{query}")))
            .bearer_auth(&server.admin_key)
    };
    let mp4 = content("?format=meta_reels").send().await.unwrap();
    assert_eq!(mp4.status(), 200);
    assert_eq!(mp4.headers()["content-type"], "video/mp4");
    assert_eq!(mp4.headers()["accept-ranges"], "bytes");
    let bytes = mp4.bytes().await.unwrap();
    let file = tempfile::NamedTempFile::with_suffix(".mp4").unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    check_mp4(file.path(), (270, 480), 10, 60);
    let part = content("?format=meta_reels")
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap(), bytes[100..200]);
    let poster = content("?format=meta_feed_square&variant=poster")
        .send()
        .await
        .unwrap();
    assert_eq!(poster.headers()["content-type"], "image/jpeg");
    let poster = image::load_from_memory(&poster.bytes().await.unwrap()).unwrap();
    assert_eq!((poster.width(), poster.height()), (270, 270));
    let preview = content("?variant=preview").send().await.unwrap();
    assert_eq!(preview.headers()["content-type"], "image/gif");

    // Progress with frames, fps and ETA went out on the job's event stream.
    let events = server
        .client
        .get(server.url(&format!("/v1/videos/{id}/events")))
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap();
    let blocks = support::sse_blocks(events).await;
    assert!(
        blocks
            .iter()
            .any(|b| b.contains("frame ") && b.contains(" fps, eta ")),
        "{blocks:?}"
    );

    // Bad input: 400 naming the field and the limit; no job is created.
    let before = job_count(&server).await;
    let spec =
        |clips: Value| json!({"spec": {"fps": 30, "clips": clips}, "formats": ["meta_reels"]});
    let cases = [
        (
            spec(json!([{"duration": 1, "layers": [{"type": "sparkle"}]}])),
            "spec.clips[0].layers[0].type",
        ),
        (
            spec(json!([{"duration": 1, "transition": {"type": "spin"}}, {"duration": 1}])),
            "spec.clips[0].transition.type",
        ),
        (spec(json!([{"duration": -2}])), "spec.clips[0].duration"),
        (spec(json!([{"duration": 1e12}])), "at most 120"),
        (
            spec(json!([{"duration": 30}, {"duration": 30}])),
            "over the limit of 1200 frames",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "logo": garbage["id"], "formats": ["meta_reels"]}),
            "logo: asset",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "logo": "no-such-asset", "formats": ["meta_reels"]}),
            "logo: no asset",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "preset": "warp9", "formats": ["meta_reels"]}),
            "preset: `warp9`",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "crf": 70, "formats": ["meta_reels"]}),
            "crf: 70",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "formats": ["iab_leaderboard"]}),
            "formats[0]",
        ),
        (
            json!({"copy": {"headline": "Hi"}, "seconds": 600, "formats": ["meta_reels"]}),
            "seconds: 600",
        ),
    ];
    for (body, needle) in cases {
        let (status, error) = send(server.post("/v1/videos", &body)).await;
        assert_eq!(status, 400, "{body} -> {error}");
        assert!(
            error.to_string().contains(needle),
            "{needle:?} not in {error}"
        );
    }
    assert_eq!(job_count(&server).await, before, "no job was created");

    // A PNG whose header claims 30000 x 30000 pixels (a decompression bomb's opening): refused
    // from its header, before any pixel is decoded, both where a spec names it and where a
    // creative.render job reads it (bounded before only by the image crate's 512 MiB
    // allocation cap, with an error that did not say why).
    let bomb = stored("bomb.png", png_header_only(30_000)).await;
    let in_spec = spec(json!([{"duration": 1, "layers": [
        {"type": "title", "text": "Hi"}, {"type": "image", "asset": bomb["id"]}]}]));
    let (status, error) = send(server.post("/v1/videos", &in_spec)).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error
            .to_string()
            .contains("30000x30000 is above the limit of 67108864 pixels"),
        "{error}"
    );
    let render = json!({"kind": "creative.render", "payload": {
        "copy": {"headline": "Hi"}, "brand": {"primary": "#0B5FFF", "secondary": "#FFFFFF"},
        "formats": ["iab_medium_rectangle"], "product_image": bomb["id"]}});
    let (status, job) = send(server.post("/api/jobs", &render)).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let failed = wait_for(Duration::from_secs(60), "the creative job", || async {
        let (_, job) = send(server.get(&format!("/api/jobs/{id}"))).await;
        (job["state"] == "failed").then_some(job)
    })
    .await;
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("product_image: asset")
            && failed["error"]
                .as_str()
                .unwrap()
                .contains("above the limit"),
        "{failed}"
    );
    server.stop().await;
}

/// A valid PNG signature, an IHDR of `side` x `side` RGBA pixels (CRC correct), one IDAT of a
/// few compressed bytes and IEND: the opening of a decompression bomb, small on disk.
fn png_header_only(side: u32) -> Vec<u8> {
    let chunk = |body: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(body);
        let mut out = ((body.len() - 4) as u32).to_be_bytes().to_vec();
        out.extend(body);
        out.extend(crc.sum().to_be_bytes());
        out
    };
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(&ihdr));
    let mut idat = flate2::write::ZlibEncoder::new(b"IDAT".to_vec(), flate2::Compression::best());
    std::io::Write::write_all(&mut idat, &[0; 4096]).unwrap();
    png.extend(chunk(&idat.finish().unwrap()));
    png.extend(chunk(b"IEND"));
    png
}

#[tokio::test]
async fn a_cancelled_video_job_stores_nothing() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = support::open_queue(
        support::QueueKind::Embedded,
        &db.store,
        &support::fast_settings(),
    )
    .await;
    let server = TestServer::start(db.store.clone(), queue).await;
    let mut long = showcase(30, 0.25);
    long["clips"][0]["duration"] = json!(30.0);
    let request = json!({"spec": long, "formats": ["meta_reels"]});
    let (status, job) = send(server.post("/v1/videos", &request)).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait_for(Duration::from_secs(60), "the render to start", || async {
        let (_, job) = send(server.get(&format!("/v1/videos/{id}"))).await;
        (job["progress"].as_f64().unwrap_or(0.0) > 0.0).then_some(())
    })
    .await;
    let (status, cancelled) = send(server.delete(&format!("/v1/videos/{id}"))).await;
    assert_eq!(status, 200, "{cancelled}");
    let job = wait_for(Duration::from_secs(30), "the cancel", || async {
        let (_, job) = send(server.get(&format!("/v1/videos/{id}"))).await;
        (job["state"] == "cancelled").then_some(job)
    })
    .await;
    assert!(job["result"].is_null());
    // Give the worker a moment to unwind, then: no asset, no work files.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let assets = adforge::store::assets::AssetStore::new(
        db.store.clone(),
        Path::new("/nonexistent"),
        Default::default(),
    );
    assert!(assets.for_job("admin", &id).await.unwrap().is_empty());
    server.stop().await;
}

fn adforge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_adforge"))
}

fn render_command(root: &Path, jobs: &Path, out: &Path) -> Command {
    let mut command = adforge();
    command
        .arg("render")
        .arg(jobs)
        .arg("--out")
        .arg(out)
        .env("ADFORGE_DATA_DIR", root.join("data"))
        .env(
            "ADFORGE_MODELS_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        )
        .env("ADFORGE_TEXT_MODEL", "")
        .env("ADFORGE_VISIBILITY_TIMEOUT_SECS", "2")
        .env("ADFORGE_WORKERS", "1")
        .env("RUST_LOG", "warn");
    command
}

#[tokio::test]
async fn render_batches_resume_after_a_kill_and_finish_each_job_once() {
    let root = tempfile::tempdir().unwrap();
    let (jobs, out) = (root.path().join("JOBS.jsonl"), root.path().join("out"));
    let short = json!({"kind": "video.render", "payload": {"spec": showcase(10, 0.25), "formats": ["meta_feed_square"]}});
    let mut long_spec = showcase(24, 0.25);
    long_spec["clips"][3]["duration"] = json!(25.0);
    let long =
        json!({"kind": "video.render", "payload": {"spec": long_spec, "formats": ["meta_reels"]}});
    let image = json!({"kind": "creative.render", "payload": {
        "copy": {"headline": "Light shoes", "cta": "Shop now"},
        "brand": {"primary": "#0B5FFF", "secondary": "#FFFFFF"},
        "formats": ["iab_medium_rectangle"], "output": "png"}});
    std::fs::write(&jobs, format!("{short}\n{image}\n\n{long}\n")).unwrap();
    // The first run renders the short job, then dies (SIGKILL) in the middle of the long one.
    let mut first = render_command(root.path(), &jobs, &out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let data = root.path().join("data");
    let db_url = adforge::store::Store::sqlite_url_in(&data);
    let store = wait_for(Duration::from_secs(60), "the batch database", || {
        let (url, data) = (db_url.clone(), data.clone());
        async move {
            let created = std::fs::read_dir(&data).ok()?.count() > 0;
            if !created {
                return None;
            }
            adforge::store::Store::connect(&url, &Default::default())
                .await
                .ok()
        }
    })
    .await;
    let all = adforge::store::JobFilter {
        limit: 100,
        ..Default::default()
    };
    let long_job = wait_for(
        Duration::from_secs(120),
        "the long render to be under way",
        || {
            let (store, all) = (store.clone(), all.clone());
            async move {
                let jobs = store.list_jobs("admin", &all).await.ok()?;
                jobs.into_iter()
                    .find(|j| j.payload["formats"][0] == "meta_reels" && j.progress > 0.05)
            }
        },
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let rows = store.list_jobs("admin", &all).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        store
            .get_job(None, &long_job.id)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "running",
        "the long job was running when its process died"
    );
    // The second run submits nothing new, reclaims the long job and finishes it.
    let output = render_command(root.path(), &jobs, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcomes: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = outcomes
        .iter()
        .map(|o| o["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![1, 2, 4]);
    assert!(
        outcomes
            .iter()
            .all(|o| o["state"] == "succeeded" && o["resumed"] == true)
    );
    let rows = store.list_jobs("admin", &all).await.unwrap();
    assert_eq!(rows.len(), 3, "nothing was submitted twice");
    let long_done = store.get_job(None, &long_job.id).await.unwrap().unwrap();
    assert_eq!(long_done.attempts, 2, "one attempt killed, one finished");
    for done in rows.iter().filter(|r| r.id != long_job.id) {
        assert_eq!(done.attempts, 1, "{} finished in the first run", done.kind);
    }
    let events = store
        .job_events_after(&long_job.id, 0, 10_000)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.state.as_str() == "succeeded")
            .count(),
        1
    );
    // Each video job's files once (MP4, poster, preview) and the image job's, copied to --out;
    // no partial file anywhere.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let videos = names
        .iter()
        .filter(|n| n.starts_with("line0001-") || n.starts_with("line0004-"));
    assert_eq!(videos.count(), 6, "{names:?}");
    let image = names
        .iter()
        .any(|n| n.starts_with("line0002-") && n.ends_with(".png"));
    assert!(image, "{names:?}");
    check_mp4(&out.join("line0004-meta_reels.mp4"), (270, 480), 24, 672);
    let partial = walk(&root.path().join("data")).into_iter().find(|p| {
        let name = p.to_string_lossy();
        name.ends_with(".partial") || name.contains(".scratch/") && p.is_file()
    });
    assert!(partial.is_none(), "left behind: {partial:?}");
    store.close().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

const MEMORY_CHILD: &str = "ADFORGE_VIDEO_MEMORY_CHILD";
/// A 60 s render at 540x960 may grow resident memory by this much over its whole run (the
/// prepared clips, the frame chunk, the encoder's queue and x264's lookahead) ...
const RSS_GROWTH_BOUND: u64 = 250 << 20;
/// ... and the peak of its second half may pass the first half's by this much: 720 frames of
/// 540x960 RGBA kept would be 1.5 GB.
const RSS_STEADY_BOUND: u64 = 24 << 20;

#[test]
fn a_long_render_keeps_memory_bounded() {
    crate::support::run_child_test("video::memory_child", MEMORY_CHILD);
}

/// Renders 60 s at 540x960 and 12 fps (720 frames) and checks resident memory; run by
/// `a_long_render_keeps_memory_bounded` in a process of its own.
#[test]
#[ignore = "run in a child process by a_long_render_keeps_memory_bounded"]
fn memory_child() {
    if std::env::var_os(MEMORY_CHILD).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = showcase(12, 0.5);
    for (k, clip) in spec["clips"].as_array_mut().unwrap().iter_mut().enumerate() {
        clip["duration"] = json!(if k == 3 { 16.5 } else { 15.0 });
    }
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let before = crate::encoder::rss_bytes();
    let progress = |p: RenderProgress| {
        samples
            .lock()
            .unwrap()
            .push((p.frames_done, crate::encoder::rss_bytes()));
    };
    let cancel = AtomicBool::new(false);
    let video = render(
        &spec,
        "meta_reels",
        &Inputs::default(),
        dir.path(),
        &cancel,
        &progress,
    )
    .unwrap();
    assert_eq!(video.frames, 720);
    let samples = samples.lock().unwrap().clone();
    let (first, second): (Vec<_>, Vec<_>) = samples.iter().partition(|(f, _)| *f <= 360);
    let peak = |s: &[(u64, u64)]| s.iter().map(|(_, r)| *r).max().unwrap_or(0);
    let (peak_first, peak_second) = (peak(&first), peak(&second));
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    eprintln!(
        "rss before {:.0} MiB, peak first half {:.0} MiB, second half {:.0} MiB",
        mib(before),
        mib(peak_first),
        mib(peak_second)
    );
    assert!(peak_second.max(peak_first) - before < RSS_GROWTH_BOUND);
    assert!(peak_second < peak_first + RSS_STEADY_BOUND);
}

#[tokio::test]
async fn text_to_video_streams_generated_frames_into_every_format() {
    use adforge::engine::image::engine::{EngineLimits, ImageEngine, ImageEngines};
    use adforge::engine::image::pipeline::DiffusionModel;
    use adforge::engine::image::random::{RandomModelSpec, write_random_model};
    let request = json!({
        "generate": {"prompt": "a red running shoe", "frames": 3, "steps": 3, "width": 32, "height": 32,
                     "fps": 4, "interpolate": 2},
        "formats": ["meta_feed_square", "meta_reels"], "scale": 0.1, "seed": 7,
    });
    // Without an image model: 503 saying how to get one.
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    support::expect_error(
        server.post("/v1/videos", &request),
        503,
        "models pull sd-turbo",
    )
    .await;
    server.stop().await;

    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let dir = tempfile::tempdir().unwrap();
    write_random_model(dir.path(), &RandomModelSpec::tiny_sd(), 3).unwrap();
    let model = DiffusionModel::load("tiny-sd", dir.path(), &candle_core::Device::Cpu).unwrap();
    let engines = ImageEngines::default();
    engines.insert(ImageEngine::start(Arc::new(model), EngineLimits::default()));
    let server = TestServer::start_with_image(db.store.clone(), queue, engines).await;
    let mut too_many = request.clone();
    too_many["generate"]["frames"] = json!(99);
    support::expect_error(
        server.post("/v1/videos", &too_many),
        400,
        "generate.frames: 99",
    )
    .await;
    let (status, job) = send(server.post("/v1/videos", &request)).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_for(
        Duration::from_secs(120),
        "the text-to-video job",
        || async {
            let (_, job) = send(server.get(&format!("/v1/videos/{id}"))).await;
            (job["state"] == "succeeded" || job["state"] == "failed").then_some(job)
        },
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // 3 generated frames and one RIFE frame between each pair: 5 frames.
    assert_eq!(done["result"]["frames"], 5);
    for (format, size) in [("meta_feed_square", (108, 108)), ("meta_reels", (108, 192))] {
        let mp4 = server
            .client
            .get(server.url(&format!("/v1/videos/{id}/content?format={format}")))
            .bearer_auth(&server.admin_key)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let file = tempfile::NamedTempFile::with_suffix(".mp4").unwrap();
        std::fs::write(file.path(), &mp4).unwrap();
        check_mp4(file.path(), size, 4, 5);
        let frames = frames_of(file.path(), size.0, size.1);
        assert!(
            mean_abs_diff(&frames[0], &frames[4]) > 0.5,
            "the frames move"
        );
    }
    server.stop().await;
}
