//! Meta Marketing API: the mock checks Graph paths, the bearer token, budgets in cents, the
//! three-phase video upload and insights paging; errors by code.

use super::*;

fn meta_client(mock: &Mock) -> MetaClient {
    MetaClient::new(meta_config(mock)).unwrap()
}

fn meta_config(mock: &Mock) -> MetaConfig {
    MetaConfig {
        base_url: mock.base.clone(),
        video_base_url: mock.base.clone(),
        api_version: "v23.0".into(),
        ad_account_id: "42".into(),
        page_id: "page-7".into(),
        currency: Currency::from_code("USD").unwrap(),
        access_token: Secret::new("meta-token"),
        token_in_query: false,
        app_secret: Some(Secret::new("shh")),
        conversion_action_type: "purchase".into(),
        video_chunk_bytes: 4,
        backoff: tiny_backoff(),
        seed: 1,
    }
}

fn meta_row(ad: &str, date: &str, spend: &str) -> Value {
    json!({
        "ad_id": ad, "date_start": date, "date_stop": date,
        "impressions": "1000", "clicks": "25", "spend": spend, "ctr": "2.5", "cpc": "0.49",
        "actions": [{ "action_type": "link_click", "value": "25" }, { "action_type": "purchase", "value": "3" }],
        "action_values": [{ "action_type": "purchase", "value": "150.50" }],
    })
}

fn meta_platform(seen: &Seen, n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("authorization") == "Bearer meta-token",
        "no bearer token",
    );
    // HMAC-SHA256("shh", "meta-token"), from Python's hmac module.
    check(
        failed,
        seen.query("appsecret_proof")
            == Some("6ee1830414afd3ffb478a59a2a1b4637ce75860818c4da7101820399b11824fe"),
        "appsecret_proof",
    );
    let body = seen.json();
    let is_int = |v: &Value| v.is_i64() || v.is_u64();
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/v23.0/act_42/campaigns") => {
            check(failed, body["name"] == "Spring sale", "name");
            check(failed, body["objective"] == "OUTCOME_SALES", "objective");
            check(failed, body["status"] == "PAUSED", "status");
            check(
                failed,
                body["special_ad_categories"].is_array(),
                "special_ad_categories",
            );
            ok(json!({ "id": "c1" }))
        }
        ("POST", "/v23.0/act_42/adsets") => {
            check(failed, body["campaign_id"] == "c1", "campaign_id");
            check(
                failed,
                is_int(&body["daily_budget"]) && body["daily_budget"] == 12345,
                "daily_budget in cents",
            );
            check(
                failed,
                body["billing_event"] == "IMPRESSIONS",
                "billing_event",
            );
            check(
                failed,
                body["optimization_goal"].is_string(),
                "optimization_goal",
            );
            check(
                failed,
                body["targeting"]["geo_locations"]["countries"] == json!(["US"]),
                "targeting",
            );
            check(
                failed,
                body["start_time"].is_string() && body["status"] == "ACTIVE",
                "start_time, status",
            );
            ok(json!({ "id": "s1" }))
        }
        ("POST", "/v23.0/act_42/adimages") => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body["bytes"].as_str().unwrap_or(""))
                .unwrap_or_default();
            check(failed, bytes == IMAGE, "bytes is the base64 image");
            ok(json!({ "images": { "hero.png": { "hash": "h1", "url": "https://x" } } }))
        }
        ("POST", "/v23.0/act_42/advideos") => {
            if seen
                .header("content-type")
                .starts_with("multipart/form-data")
            {
                check(
                    failed,
                    seen.part("upload_phase").as_deref() == Some("transfer"),
                    "transfer phase",
                );
                check(
                    failed,
                    seen.part("upload_session_id").as_deref() == Some("u1"),
                    "session",
                );
                let start: usize = seen
                    .part("start_offset")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(99);
                let chunk = &VIDEO[start.min(VIDEO.len())..(start + 4).min(VIDEO.len())];
                check(
                    failed,
                    seen.text().contains(std::str::from_utf8(chunk).unwrap()),
                    "chunk bytes",
                );
                let next = (start + 4).min(VIDEO.len());
                let end = (next + 4).min(VIDEO.len());
                return ok(
                    json!({ "start_offset": next.to_string(), "end_offset": end.to_string() }),
                );
            }
            match body["upload_phase"].as_str() {
                Some("start") => {
                    check(failed, body["file_size"] == VIDEO.len(), "file_size");
                    ok(
                        json!({ "upload_session_id": "u1", "video_id": "v1", "start_offset": "0", "end_offset": "4" }),
                    )
                }
                Some("finish") => {
                    check(failed, body["upload_session_id"] == "u1", "finish session");
                    ok(json!({ "success": true }))
                }
                other => {
                    failed.push(format!("upload_phase {other:?}"));
                    Reply(400, Vec::new(), json!({}))
                }
            }
        }
        ("POST", "/v23.0/act_42/adcreatives") => {
            let spec = &body["object_story_spec"];
            check(failed, spec["page_id"] == "page-7", "page_id");
            let video = &spec["video_data"];
            check(
                failed,
                video["video_id"] == "v1" && video["image_hash"] == "h1",
                "video_data ids",
            );
            check(
                failed,
                video["call_to_action"]["type"] == "SHOP_NOW",
                "call_to_action",
            );
            check(
                failed,
                video["message"] == "Everything 20% off this week",
                "message = primary text",
            );
            ok(json!({ "id": "cr1" }))
        }
        ("POST", "/v23.0/act_42/ads") => {
            check(failed, body["adset_id"] == "s1", "adset_id");
            check(
                failed,
                body["creative"]["creative_id"] == "cr1",
                "creative_id",
            );
            ok(json!({ "id": "ad1" }))
        }
        ("GET", "/v23.0/act_42/insights") => {
            check(failed, seen.query("level") == Some("ad"), "level=ad");
            check(
                failed,
                seen.query("time_increment") == Some("1"),
                "time_increment=1",
            );
            let time_range: Value =
                serde_json::from_str(seen.query("time_range").unwrap_or("")).unwrap_or(Value::Null);
            check(
                failed,
                time_range == json!({ "since": "2026-01-01", "until": "2026-01-02" }),
                "time_range",
            );
            check(
                failed,
                seen.query("fields")
                    .is_some_and(|f| f.contains("spend") && f.contains("actions")),
                "fields",
            );
            match seen.query("after") {
                None => ok(json!({
                    "data": [meta_row("ad1", "2026-01-01", "12.34")],
                    "paging": { "cursors": { "before": "B", "after": "AFTER1" }, "next": "http://next" },
                })),
                Some("AFTER1") => ok(json!({
                    "data": [meta_row("ad1", "2026-01-02", "7.05")],
                    "paging": { "cursors": { "before": "AFTER1", "after": "AFTER2" } },
                })),
                Some(other) => {
                    failed.push(format!("cursor {other}"));
                    ok(json!({ "data": [] }))
                }
            }
        }
        ("POST", "/v23.0/ad1") => {
            check(
                failed,
                body["status"] == ["PAUSED", "ACTIVE"][n.min(1)],
                "status update",
            );
            ok(json!({ "success": true }))
        }
        ("POST", "/v23.0/s1") => {
            check(
                failed,
                body == json!({ "daily_budget": 5000 }),
                "budget update in cents",
            );
            ok(json!({ "success": true }))
        }
        _ => {
            failed.push("unexpected call".into());
            Reply(
                404,
                Vec::new(),
                json!({ "error": { "code": 803, "message": "no such path" } }),
            )
        }
    }
}

#[tokio::test]
async fn meta_deploys_a_video_ad_and_reads_insights() {
    let mock = serve(meta_platform).await;
    let meta = meta_client(&mock);
    let campaign = meta.create_campaign(&campaign_spec(None)).await.unwrap();
    let ad_set = meta
        .create_ad_set(&ad_set_spec(
            &campaign,
            Some(Budget::Daily(units("123.45"))),
            None,
        ))
        .await
        .unwrap();
    let image = meta.upload_image("hero.png", IMAGE).await.unwrap();
    let video = meta
        .upload_video("spot.mp4", &VideoSource::Bytes(Bytes::from_static(VIDEO)))
        .await
        .unwrap();
    assert_eq!(
        (image.external_id.as_str(), video.external_id.as_str()),
        ("h1", "v1")
    );
    let creative = meta
        .create_creative(&CreativeSpec {
            image: Some(image),
            video: Some(video),
            ..creative_spec()
        })
        .await
        .unwrap();
    let ad = meta
        .create_ad(&AdSpec {
            ad_set_external_id: ad_set.clone(),
            name: "Hero ad".into(),
            creative,
            status: DeliveryStatus::Active,
        })
        .await
        .unwrap();
    assert_eq!(ad, "ad1");
    meta.pause(ObjectKind::Ad, &ad).await.unwrap();
    meta.resume(ObjectKind::Ad, &ad).await.unwrap();
    meta.update_budget(ObjectKind::AdSet, &ad_set, Budget::Daily(units("50")))
        .await
        .unwrap();
    let rows = meta.fetch_insights(range()).await.unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].spend, Micros(12_340_000));
    assert_eq!(rows[1].spend, Micros(7_050_000));
    assert_eq!(
        (rows[0].impressions, rows[0].clicks, rows[0].conversions),
        (1000, 25, 3)
    );
    assert_eq!(rows[0].revenue, Micros(150_500_000));
    assert_eq!(rows[1].date, day(2));
    // start, three transfers of 4, 4 and 2 bytes, finish.
    assert_eq!(mock.calls_to("/advideos"), 5);
    assert_eq!(mock.calls_to("/insights"), 2);
    assert_eq!(
        mock.paths()[..4],
        [
            "POST /v23.0/act_42/campaigns",
            "POST /v23.0/act_42/adsets",
            "POST /v23.0/act_42/adimages",
            "POST /v23.0/act_42/advideos"
        ]
    );
}

#[tokio::test]
async fn meta_refuses_a_budget_finer_than_a_cent_before_sending() {
    let mock = serve(meta_platform).await;
    let err = meta_client(&mock)
        .create_ad_set(&ad_set_spec(
            "c1",
            Some(Budget::Daily(units("1.005"))),
            None,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::InvalidRequest { field: Some(ref f), .. } if f == "budget"),
        "{err}"
    );
    assert!(mock.paths().is_empty());
}

fn meta_error(code: i64, subcode: Option<i64>) -> Value {
    json!({ "error": {
        "message": format!("error {code}"), "type": "OAuthException", "code": code,
        "error_subcode": subcode, "fbtrace_id": "trace-9",
        "error_data": { "blame_field_specs": [["daily_budget"]] },
    }})
}

#[tokio::test]
async fn meta_throttling_code_17_is_retried_then_succeeds() {
    let mock = serve(|_: &Seen, n, _: &mut Vec<String>| {
        if n < 2 {
            Reply(400, Vec::new(), meta_error(17, Some(2446079)))
        } else {
            ok(json!({ "id": "c1" }))
        }
    })
    .await;
    let id = meta_client(&mock)
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap();
    assert_eq!(id, "c1");
    assert_eq!(mock.calls_to("/campaigns"), 3);
}

#[tokio::test]
async fn meta_429_with_retry_after_is_retried_and_a_long_one_is_not_waited_for() {
    let mock = serve(|_: &Seen, n, _: &mut Vec<String>| match n {
        0 => Reply(429, vec![("retry-after", "0".into())], json!({})),
        1 => ok(json!({ "id": "c1" })),
        _ => Reply(429, vec![("retry-after", "120".into())], json!({})),
    })
    .await;
    let meta = meta_client(&mock);
    assert_eq!(
        meta.create_campaign(&campaign_spec(None)).await.unwrap(),
        "c1"
    );
    // 120 s is past the 1 s the policy may wait in all: the error comes back at once.
    let err = meta
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlatformError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(mock.calls_to("/campaigns"), 3);
}

#[tokio::test]
async fn meta_errors_map_to_platform_errors_and_auth_is_not_retried() {
    let mock = serve(
        |seen: &Seen, _, _: &mut Vec<String>| match seen.path.as_str() {
            "/v23.0/act_42/campaigns" => Reply(401, Vec::new(), meta_error(190, Some(463))),
            "/v23.0/act_42/adsets" => Reply(400, Vec::new(), meta_error(100, Some(1487390))),
            "/v23.0/act_42/ads" => Reply(400, Vec::new(), meta_error(2635, Some(1487))),
            _ => Reply(400, Vec::new(), meta_error(80004, None)),
        },
    )
    .await;
    let meta = meta_client(&mock);
    let auth = meta
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap_err();
    assert!(matches!(auth, PlatformError::Auth { .. }), "{auth}");
    assert_eq!(mock.calls_to("/campaigns"), 1);
    let invalid = meta
        .create_ad_set(&ad_set_spec("c1", Some(Budget::Daily(units("1"))), None))
        .await
        .unwrap_err();
    assert_eq!(
        invalid,
        PlatformError::InvalidRequest {
            field: Some("daily_budget".into()),
            message: "error 100".into()
        }
    );
    let creative = meta
        .create_creative(&CreativeSpec {
            image: Some(adforge::orchestrate::platforms::AssetRef {
                kind: adforge::orchestrate::platforms::AssetKind::Image,
                external_id: "h1".into(),
            }),
            ..creative_spec()
        })
        .await
        .unwrap_err();
    // 80004: the ads-management throttle, retried up to the policy's 3 attempts.
    assert_eq!(creative, PlatformError::RateLimited { retry_after: None });
    assert_eq!(mock.calls_to("/adcreatives"), 3);
    let other = meta
        .create_ad(&AdSpec {
            ad_set_external_id: "s1".into(),
            name: "x".into(),
            creative: adforge::orchestrate::platforms::Creative {
                external_id: Some("cr1".into()),
                spec: creative_spec(),
            },
            status: DeliveryStatus::Paused,
        })
        .await
        .unwrap_err();
    assert_eq!(
        other,
        PlatformError::Platform {
            code: "2635/1487".into(),
            message: "error 2635".into(),
            request_id: Some("trace-9".into())
        }
    );
}

#[tokio::test]
async fn meta_token_in_query_and_a_transient_video_transfer_is_retried() {
    let mock = serve(|seen: &Seen, n, failed: &mut Vec<String>| {
        check(
            failed,
            seen.query("access_token") == Some("meta-token") && seen.header("authorization").is_empty(),
            "token in the query, not the header",
        );
        let phase = seen.part("upload_phase").or_else(|| seen.json()["upload_phase"].as_str().map(str::to_string));
        match (n, phase.as_deref()) {
            (0, Some("start")) => ok(json!({ "upload_session_id": "u1", "video_id": "v9", "start_offset": "0", "end_offset": "10" })),
            (1, Some("transfer")) => Reply(500, Vec::new(), json!({ "error": {
                "code": 6000, "error_subcode": 1363037, "is_transient": true, "message": "upload failed" } })),
            (2, Some("transfer")) => {
                check(failed, seen.text().contains("0123456789"), "the whole file in one chunk");
                ok(json!({ "start_offset": "10", "end_offset": "10" }))
            }
            (3, Some("finish")) => ok(json!({ "success": true })),
            (n, phase) => {
                failed.push(format!("call {n} in phase {phase:?}"));
                Reply(400, Vec::new(), json!({}))
            }
        }
    })
    .await;
    let meta = MetaClient::new(MetaConfig {
        token_in_query: true,
        app_secret: None,
        video_chunk_bytes: 16,
        ..meta_config(&mock)
    })
    .unwrap();
    let video = meta
        .upload_video("spot.mp4", &VideoSource::Bytes(Bytes::from_static(VIDEO)))
        .await
        .unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(video.external_id, "v9");
    assert_eq!(mock.calls_to("/advideos"), 4);
}
