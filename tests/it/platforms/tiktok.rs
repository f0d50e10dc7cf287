//! TikTok Business API: the mock checks the Access-Token, advertiser_id, float budgets, MD5
//! signatures of multipart uploads and the report paging; errors inside HTTP 200 envelopes.

use super::*;

const TIKTOK: &str = "/open_api/v1.3";

fn tiktok_client(mock: &Mock) -> TikTokClient {
    TikTokClient::new(TikTokConfig {
        base_url: mock.base.clone(),
        api_version: "v1.3".into(),
        advertiser_id: "7001".into(),
        identity_type: "CUSTOMIZED_USER".into(),
        identity_id: "ident-3".into(),
        access_token: Secret::new("tt-token"),
        revenue_metric: Some("total_purchase_value".into()),
        backoff: tiny_backoff(),
        seed: 3,
    })
    .unwrap()
}

fn envelope(data: Value) -> Reply {
    ok(json!({ "code": 0, "message": "OK", "request_id": "rq-1", "data": data }))
}

fn tiktok_error(code: i64) -> Reply {
    ok(
        json!({ "code": code, "message": format!("error {code}"), "request_id": "rq-err", "data": {} }),
    )
}

fn tiktok_platform(seen: &Seen, _n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("access-token") == "tt-token",
        "Access-Token",
    );
    let body = seen.json();
    let Some(path) = seen.path.strip_prefix(TIKTOK) else {
        failed.push("outside open_api/v1.3".into());
        return tiktok_error(40002);
    };
    let multipart = seen
        .header("content-type")
        .starts_with("multipart/form-data");
    if seen.method == "POST" && !multipart {
        check(failed, body["advertiser_id"] == "7001", "advertiser_id");
    }
    match (seen.method.as_str(), path) {
        ("POST", "/campaign/create/") => {
            check(
                failed,
                body["campaign_name"] == "Spring sale",
                "campaign_name",
            );
            check(
                failed,
                body["objective_type"] == "WEB_CONVERSIONS",
                "objective_type",
            );
            check(
                failed,
                body["budget_mode"] == "BUDGET_MODE_DAY",
                "budget_mode",
            );
            check(
                failed,
                body["budget"].is_f64() && body["budget"] == 50.5,
                "budget as a float of whole units",
            );
            envelope(json!({ "campaign_id": "tc1" }))
        }
        ("POST", "/adgroup/create/") => {
            check(failed, body["campaign_id"] == "tc1", "campaign_id");
            check(
                failed,
                body["location_ids"] == json!(["6252001"]),
                "location_ids",
            );
            check(
                failed,
                body["budget"].is_number() && body["budget"] == 20.0,
                "budget float",
            );
            for key in [
                "adgroup_name",
                "placement_type",
                "schedule_type",
                "schedule_start_time",
                "optimization_goal",
                "billing_event",
                "bid_type",
            ] {
                check(failed, body[key].is_string(), key);
            }
            check(failed, body["placements"].is_array(), "placements");
            envelope(json!({ "adgroup_id": "tg1" }))
        }
        ("POST", "/file/image/ad/upload/") => {
            check(failed, multipart, "multipart");
            check(
                failed,
                seen.part("advertiser_id").as_deref() == Some("7001"),
                "advertiser_id part",
            );
            check(
                failed,
                seen.part("image_signature").as_deref() == Some(IMAGE_MD5),
                "image_signature md5",
            );
            check(
                failed,
                seen.text()
                    .contains("name=\"image_file\"; filename=\"hero.png\""),
                "image_file",
            );
            envelope(json!({ "image_id": "ti1" }))
        }
        ("POST", "/file/video/ad/upload/") => {
            check(failed, multipart, "multipart");
            check(
                failed,
                seen.part("upload_type").as_deref() == Some("UPLOAD_BY_FILE"),
                "upload_type",
            );
            check(
                failed,
                seen.part("video_signature").as_deref() == Some(VIDEO_MD5),
                "video_signature md5",
            );
            check(
                failed,
                seen.text().contains("filename=\"spot.mp4\"") && seen.text().contains("0123456789"),
                "video_file",
            );
            envelope(json!([{ "video_id": "tv1" }]))
        }
        ("POST", "/ad/create/") => {
            check(failed, body["adgroup_id"] == "tg1", "adgroup_id");
            let c = &body["creatives"][0];
            check(
                failed,
                c["ad_format"] == "SINGLE_VIDEO" && c["video_id"] == "tv1",
                "video creative",
            );
            check(failed, c["image_ids"] == json!(["ti1"]), "cover image_ids");
            check(
                failed,
                c["ad_text"] == "Everything 20% off this week",
                "ad_text",
            );
            check(
                failed,
                c["call_to_action"] == "SHOP_NOW" && c["landing_page_url"].is_string(),
                "cta, landing page",
            );
            check(
                failed,
                c["identity_id"] == "ident-3" && c["identity_type"] == "CUSTOMIZED_USER",
                "identity",
            );
            envelope(json!({ "ad_ids": ["ta1"] }))
        }
        ("POST", "/ad/status/update/") => {
            check(
                failed,
                body["ad_ids"] == json!(["ta1"]) && body["operation_status"] == "DISABLE",
                "pause",
            );
            envelope(json!({}))
        }
        ("POST", "/adgroup/update/") => {
            check(
                failed,
                body["adgroup_id"] == "tg1" && body["budget"] == 35.25,
                "budget update float",
            );
            envelope(json!({}))
        }
        ("GET", "/report/integrated/get/") => {
            check(
                failed,
                seen.query("advertiser_id") == Some("7001"),
                "advertiser_id",
            );
            check(
                failed,
                seen.query("report_type") == Some("BASIC"),
                "report_type",
            );
            check(
                failed,
                seen.query("data_level") == Some("AUCTION_AD"),
                "data_level",
            );
            check(
                failed,
                seen.query("dimensions") == Some(r#"["ad_id","stat_time_day"]"#),
                "dimensions",
            );
            check(
                failed,
                seen.query("metrics")
                    .is_some_and(|m| m.contains("\"spend\"") && m.contains("\"conversion\"")),
                "metrics",
            );
            check(
                failed,
                seen.query("start_date") == Some("2026-01-01")
                    && seen.query("end_date") == Some("2026-01-02"),
                "dates",
            );
            let page: u64 = seen.query("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let date = format!("2026-01-0{page} 00:00:00");
            envelope(json!({
                "list": [{
                    "dimensions": { "ad_id": "ta1", "stat_time_day": date },
                    "metrics": { "spend": "10.50", "impressions": "900", "clicks": "30", "conversion": "4",
                                 "total_purchase_value": "88.00" },
                }],
                "page_info": { "page": page, "page_size": 1000, "total_number": 2, "total_page": 2 },
            }))
        }
        _ => {
            failed.push("unexpected call".into());
            tiktok_error(40002)
        }
    }
}

#[tokio::test]
async fn tiktok_deploys_a_video_ad_from_a_file_and_reads_the_report() {
    let mock = serve(tiktok_platform).await;
    let tiktok = tiktok_client(&mock);
    let campaign = tiktok
        .create_campaign(&campaign_spec(Some(Budget::Daily(units("50.5")))))
        .await
        .unwrap();
    let ad_group = tiktok
        .create_ad_set(&ad_set_spec(
            &campaign,
            Some(Budget::Daily(units("20"))),
            None,
        ))
        .await
        .unwrap();
    let image = tiktok.upload_image("hero.png", IMAGE).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spot.mp4");
    std::fs::write(&path, VIDEO).unwrap();
    let video = tiktok
        .upload_video("spot.mp4", &VideoSource::Path(path))
        .await
        .unwrap();
    let creative = tiktok
        .create_creative(&CreativeSpec {
            image: Some(image),
            video: Some(video),
            ..creative_spec()
        })
        .await
        .unwrap();
    let ad = tiktok
        .create_ad(&AdSpec {
            ad_set_external_id: ad_group.clone(),
            name: "Hero ad".into(),
            creative,
            status: DeliveryStatus::Active,
        })
        .await
        .unwrap();
    assert_eq!(ad, "ta1");
    tiktok.pause(ObjectKind::Ad, &ad).await.unwrap();
    tiktok
        .update_budget(ObjectKind::AdSet, &ad_group, Budget::Daily(units("35.25")))
        .await
        .unwrap();
    let rows = tiktok.fetch_insights(range()).await.unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].date, rows[1].date), (day(1), day(2)));
    assert_eq!(
        (rows[0].impressions, rows[0].clicks, rows[0].conversions),
        (900, 30, 4)
    );
    assert_eq!(
        (rows[0].spend, rows[0].revenue),
        (Micros(10_500_000), Micros(88_000_000))
    );
    assert_eq!(mock.calls_to("/report/integrated/get/"), 2);
}

#[tokio::test]
async fn tiktok_envelope_errors_in_http_200_are_retried_or_mapped() {
    let mock = serve(
        |seen: &Seen, n, _: &mut Vec<String>| match seen.path.as_str() {
            "/open_api/v1.3/campaign/create/" if n < 2 => tiktok_error(40100),
            "/open_api/v1.3/campaign/create/" => envelope(json!({ "campaign_id": "tc1" })),
            "/open_api/v1.3/adgroup/create/" if n == 0 => tiktok_error(50000),
            "/open_api/v1.3/adgroup/create/" => envelope(json!({ "adgroup_id": "tg1" })),
            "/open_api/v1.3/ad/status/update/" => tiktok_error(40100),
            "/open_api/v1.3/campaign/status/update/" => tiktok_error(40001),
            _ => tiktok_error(40999),
        },
    )
    .await;
    let tiktok = tiktok_client(&mock);
    assert_eq!(
        tiktok.create_campaign(&campaign_spec(None)).await.unwrap(),
        "tc1"
    );
    assert_eq!(mock.calls_to("/campaign/create/"), 3);
    assert_eq!(
        tiktok
            .create_ad_set(&ad_set_spec("tc1", None, None))
            .await
            .unwrap(),
        "tg1"
    );
    assert_eq!(mock.calls_to("/adgroup/create/"), 2);
    let limited = tiktok.pause(ObjectKind::Ad, "ta1").await.unwrap_err();
    assert_eq!(limited, PlatformError::RateLimited { retry_after: None });
    assert_eq!(mock.calls_to("/ad/status/update/"), 3);
    let auth = tiktok.pause(ObjectKind::Campaign, "tc1").await.unwrap_err();
    assert!(matches!(auth, PlatformError::Auth { .. }), "{auth}");
    assert_eq!(mock.calls_to("/campaign/status/update/"), 1);
    let other = tiktok.resume(ObjectKind::AdSet, "tg1").await.unwrap_err();
    assert_eq!(
        other,
        PlatformError::Platform {
            code: "40999".into(),
            message: "error 40999".into(),
            request_id: Some("rq-err".into())
        }
    );
    assert!(!other.is_retryable());
}
