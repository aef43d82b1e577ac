//! The delivery engine and the ingress API against a real RabbitMQ broker.

mod common;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::{Failure, Outcome};
use serde_json::json;

#[tokio::test]
async fn an_accepted_message_is_delivered_and_its_state_reported() {
    let bus = TestBus::start().await;
    let message = status_changed(DOSSIER, 1, 4);
    let (status, body) = bus.post(&message).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["id"], message["id"]);

    let id = message["id"].as_str().unwrap();
    let seen = bus.adapter.wait_until(|s| !s.is_empty()).await;
    assert_eq!((seen[0].id.as_str(), seen[0].seq, seen[0].stale, seen[0].attempt), (id, 1, false, 1));
    let view = bus.wait_state(id, "delivered").await;
    assert_eq!(view["deliveries"][0]["adapter"], "scripted");
    assert_eq!(view["deliveries"][0]["attempts"], 1);
    assert_eq!(view["subject"], DOSSIER);

    let (status, dossier) = bus.get(&format!("/v1/dossiers/{DOSSIER}")).await;
    assert_eq!(status, 200);
    assert_eq!((dossier["status"].as_i64(), dossier["seq"].as_u64()), (Some(4), Some(1)));
    bus.stop().await;
}

#[tokio::test]
async fn a_bad_envelope_gets_every_violation_and_nothing_is_published() {
    let bus = TestBus::start().await;
    let mut message = status_changed(DOSSIER, 1, 4);
    message["seq"] = json!("one");
    message["payload"]["status"] = json!(0);
    message["payload"]["applicant"]["id"] = json!("0012030001");
    let response = bus.api.http.post(format!("{}/v1/messages", bus.api.base)).json(&message).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = response.json().await.unwrap();
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().map(|v| v["pointer"].as_str().unwrap()).collect();
    // Envelope first, then payload; each with its pointer.
    assert_eq!(pointers, ["/seq", "/payload/applicant/id", "/payload/status"], "{problem:#}");

    // A member sends in its own name only: another source is refused, naming the right.
    let mut forged = status_changed(DOSSIER, 1, 4);
    forged["source"] = json!("onestop.thachha");
    let (status, problem) = bus.post(&forged).await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("send as onestop.thachha")), "{problem}");

    let (status, _) = bus.get(&format!("/v1/messages/{}", message["id"].as_str().unwrap())).await;
    assert_eq!(status, 404);
    assert_eq!(bus.queue_depth("scripted").await, 0);
    assert!(bus.adapter.seen().is_empty());
    bus.stop().await;
}

#[tokio::test]
async fn malformed_bodies_wrong_types_and_oversize_are_refused_with_problems() {
    let bus = TestBus::start().await;
    let url = format!("{}/v1/messages", bus.api.base);
    let send = |content_type: &'static str, body: String| {
        bus.api.http.post(&url).header("content-type", content_type).body(body).send()
    };
    let not_json = send("application/json", "{\"id\": ".into()).await.unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.headers()["content-type"], "application/problem+json");
    let text = send("text/plain", status_changed(DOSSIER, 1, 4).to_string()).await.unwrap();
    assert_eq!(text.status(), 415);
    let mut big = status_changed(DOSSIER, 1, 4);
    big["payload"]["summary"] = json!("x".repeat(5000));
    let too_large = send("application/json", big.to_string()).await.unwrap();
    assert_eq!(too_large.status(), 413);
    let problem: serde_json::Value = too_large.json().await.unwrap();
    assert_eq!(problem["status"], 413);
    assert_eq!(bus.queue_depth("scripted").await, 0);
    bus.stop().await;
}

#[tokio::test]
async fn the_same_id_twice_is_accepted_once_and_delivered_once() {
    let bus = TestBus::start().await;
    let message = status_changed(DOSSIER, 1, 4);
    let (first, second) = tokio::join!(bus.post(&message), bus.post(&message));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [200, 202]);
    assert_eq!(first.1["id"], second.1["id"]);
    let (again, _) = bus.post(&message).await;
    assert_eq!(again, 200);

    // Reusing the id for a different message is a conflict.
    let mut other = message.clone();
    other["seq"] = json!(2);
    let (conflict, problem) = bus.post(&other).await;
    assert_eq!(conflict, 409, "{problem}");

    // A marker message after it: once the marker is delivered, the first was not sent twice.
    let marker = status_changed("000.00.01.H42-261120-0002", 1, 4);
    bus.post(&marker).await;
    let seen = bus.adapter.wait_until(|s| s.iter().any(|x| x.id == marker["id"])).await;
    assert_eq!(seen.iter().filter(|x| x.id == message["id"]).count(), 1, "{seen:#?}");
    bus.stop().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_then_delivered() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|d| {
        if d.attempt < 3 { Outcome::Transient(Failure::new("portal answered 503")) } else { Outcome::Delivered }
    });
    let message = status_changed(DOSSIER, 1, 4);
    bus.post(&message).await;
    let id = message["id"].as_str().unwrap();
    let view = bus.wait_state(id, "delivered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 3);
    let attempts: Vec<u32> = bus.adapter.seen().iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    bus.stop().await;
}

#[tokio::test]
async fn a_refusal_is_dead_lettered_at_once_with_its_reason_and_the_rest_flows() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|d| {
        if d.envelope.subject == DOSSIER {
            Outcome::Permanent(
                Failure::new("portal refused: error_code 03")
                    .with_answer("{\"error_code\":\"03\",\"message\":\"thiếu MaTTHC\"}"),
            )
        } else {
            Outcome::Delivered
        }
    });
    let poison = status_changed(DOSSIER, 1, 4);
    let fine = status_changed("000.00.01.H42-261120-0002", 1, 4);
    bus.post(&poison).await;
    bus.post(&fine).await;
    let view = bus.wait_state(poison["id"].as_str().unwrap(), "dead_lettered").await;
    let error = view["deliveries"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("error_code 03") && error.contains("thiếu MaTTHC"), "{error}");
    assert_eq!(view["deliveries"][0]["attempts"], 1);
    bus.wait_state(fine["id"].as_str().unwrap(), "delivered").await;
    // Taken off the dead-letter queue into the archive, where operators find it.
    let archived = bus.operator.wait_dead_letter(poison["id"].as_str().unwrap(), "scripted", "dead").await;
    assert_eq!(archived["last_error"], "portal refused: error_code 03");
    bus.stop().await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_after_its_attempts() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Transient(Failure::new("connection refused")));
    let message = status_changed(DOSSIER, 1, 4);
    bus.post(&message).await;
    let view = bus.wait_state(message["id"].as_str().unwrap(), "dead_lettered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 3);
    let error = view["deliveries"][0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("gave up after 3 attempts: connection refused"), "{error}");
    bus.stop().await;
}

#[tokio::test]
async fn a_stale_state_is_superseded_once_a_newer_seq_was_delivered() {
    let bus = TestBus::start().await;
    // The test adapter, like a real one, sends nothing for a stale state.
    bus.adapter.answer(|d| if d.stale { Outcome::Superseded } else { Outcome::Delivered });
    let newer = status_changed(DOSSIER, 5, 9);
    let older = status_changed(DOSSIER, 3, 4);
    bus.post(&newer).await;
    bus.wait_state(newer["id"].as_str().unwrap(), "delivered").await;
    bus.post(&older).await;
    let view = bus.wait_state(older["id"].as_str().unwrap(), "superseded").await;
    assert_eq!(view["deliveries"][0]["state"], "superseded");
    let seen = bus.adapter.seen();
    assert_eq!(seen.iter().map(|s| (s.seq, s.stale)).collect::<Vec<_>>(), [(5, false), (3, true)]);

    // The dossier projection kept the newest state.
    let (_, dossier) = bus.get(&format!("/v1/dossiers/{DOSSIER}")).await;
    assert_eq!((dossier["status"].as_i64(), dossier["seq"].as_u64()), (Some(9), Some(5)));
    bus.stop().await;
}

/// An older state that failed is not sent again once a newer one is accepted, even before the
/// newer one is delivered: the newer one may already be at the peer (a call that timed out, a
/// crash before its outcome was recorded), and the older one would set the peer back.
#[tokio::test]
async fn a_state_that_failed_is_not_retried_once_a_newer_one_is_accepted() {
    let bus = TestBus::start().await;
    // The older fails once; the newer twice, so it is still on its way when the older comes back.
    bus.adapter.answer(|d| match (d.envelope.seq, d.attempt) {
        (_, _) if d.stale => Outcome::Superseded,
        (3, 1) | (5, 1 | 2) => Outcome::Transient(Failure::new("portal answered 503")),
        _ => Outcome::Delivered,
    });
    let older = status_changed(DOSSIER, 3, 4);
    let newer = status_changed(DOSSIER, 5, 9);
    let batch = json!({"messages": [older, newer]});
    let response = bus.api.http.post(format!("{}/v1/messages/batch", bus.api.base)).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 200);

    bus.wait_state(older["id"].as_str().unwrap(), "superseded").await;
    bus.wait_state(newer["id"].as_str().unwrap(), "delivered").await;
    let tries: Vec<(u64, u32, bool)> = bus.adapter.seen().iter().map(|s| (s.seq, s.attempt, s.stale)).collect();
    assert!(tries.contains(&(3, 2, true)), "the older one's second try is stale: {tries:?}");
    assert!(!tries.contains(&(3, 2, false)), "{tries:?}");
    bus.stop().await;
}

#[tokio::test]
async fn one_subjects_messages_arrive_in_order_while_subjects_interleave() {
    let bus = TestBus::start().await;
    let dossiers: Vec<String> = (1..=8).map(|n| format!("000.00.01.H42-261120-{n:04}")).collect();
    // Each dossier's messages are posted in order; dossiers concurrently.
    let posts = dossiers.iter().map(|code| {
        let bus = &bus;
        async move {
            for seq in 1..=25 {
                let (status, body) = bus.post(&status_changed(code, seq, 4)).await;
                assert_eq!(status, 202, "{body}");
            }
        }
    });
    futures::future::join_all(posts).await;
    let seen = bus.adapter.wait_until(|s| s.len() == 200).await;
    for code in &dossiers {
        let seqs: Vec<u64> = seen.iter().filter(|s| &s.subject == code).map(|s| s.seq).collect();
        assert_eq!(seqs, (1..=25).collect::<Vec<_>>(), "{code}");
    }
    assert!(seen.iter().all(|s| !s.stale));
    bus.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_the_openapi_document_are_served() {
    let bus = TestBus::start().await;
    assert_eq!(bus.get("/healthz").await.0, 200);
    let (status, ready) = bus.get("/readyz").await;
    assert_eq!((status, ready["broker"].as_str(), ready["store"].as_str()), (200, Some("up"), Some("up")));
    let message = status_changed(DOSSIER, 1, 4);
    bus.post(&message).await;
    bus.wait_state(message["id"].as_str().unwrap(), "delivered").await;
    let metrics = bus.api.http.get(format!("{}/metrics", bus.api.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("lgsp_messages_delivered_total{adapter=\"scripted\"}"), "{metrics}");
    assert!(metrics.contains("lgsp_delivery_latency_seconds"), "{metrics}");
    let (status, openapi) = bus.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["/v1/messages"]["post"].is_object());
    let (status, schema) = bus.get("/v1/schemas/dossier.status_changed.json").await;
    assert_eq!((status, schema["$id"].as_str()), (200, Some("https://lgsp.local/schemas/dossier.status_changed.json")));
    bus.stop().await;
}

/// The OpenAPI document lists no route the bus does not serve.
#[tokio::test]
async fn every_documented_route_is_served() {
    let bus = TestBus::start().await;
    let (_, openapi) = bus.get("/v1/openapi.json").await;
    let paths = openapi["paths"].as_object().unwrap();
    assert!(paths.len() >= 9);
    for (path, operations) in paths {
        let concrete = path
            .replace("{id}", "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11")
            .replace("{code}", DOSSIER)
            .replace("{name}", "envelope.json")
            .replace("{service}", "citizen.verify");
        for method in operations.as_object().unwrap().keys() {
            let request =
                bus.api.http.request(method.to_uppercase().parse().unwrap(), format!("{}{concrete}", bus.api.base));
            let response = request.header("content-type", "application/json").body("{}").send().await.unwrap();
            // Served: the route exists (a 404 here must be a problem document, not "no route").
            assert_ne!(response.status(), 405, "{method} {path}");
            if response.status() == 404 {
                assert_eq!(response.headers()["content-type"], "application/problem+json", "{method} {path}");
            }
        }
    }
    bus.stop().await;
}

#[tokio::test]
async fn a_batch_gets_one_result_per_message_in_order() {
    let bus = TestBus::start().await;
    let known = status_changed("000.00.01.H42-261120-0009", 1, 4);
    assert_eq!(bus.post(&known).await.0, 202);
    let first = status_changed(DOSSIER, 1, 2);
    let second = status_changed(DOSSIER, 2, 4);
    let mut bad = status_changed("000.00.01.H42-261120-0003", 1, 4);
    bad["payload"]["status"] = json!(42);
    let mut reused = second.clone();
    reused["seq"] = json!(3);
    let batch = json!({"messages": [first, bad, second, known, second, reused]});
    let response = bus.api.http.post(format!("{}/v1/messages/batch", bus.api.base)).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let statuses: Vec<u64> =
        body["results"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    // New, invalid, new, already held, the same message again, the same id for another message.
    assert_eq!(statuses, [202, 422, 202, 200, 200, 409], "{body:#}");
    assert_eq!(body["results"][1]["problem"]["violations"][0]["pointer"], "/payload/status");
    assert_eq!(body["results"][0]["id"], first["id"]);

    bus.wait_state(second["id"].as_str().unwrap(), "delivered").await;
    let seen = bus.adapter.wait_until(|s| s.len() >= 3).await;
    let dossier: Vec<u64> = seen.iter().filter(|s| s.subject == DOSSIER).map(|s| s.seq).collect();
    assert_eq!(dossier, [1, 2], "one subject's messages in a batch keep their order, each once");
    bus.stop().await;
}

#[tokio::test]
async fn a_batch_that_is_not_a_batch_is_refused_whole() {
    let bus = TestBus::start().await;
    let url = format!("{}/v1/messages/batch", bus.api.base);
    for (body, reason) in [
        (json!({"messages": []}), "is empty"),
        (json!([status_changed(DOSSIER, 1, 4)]), "must be an object"),
        (json!({"messages": (0..501).map(|_| json!({})).collect::<Vec<_>>()}), "at most 500"),
    ] {
        let response = bus.api.http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422);
        let problem: serde_json::Value = response.json().await.unwrap();
        assert!(problem["violations"][0]["reason"].as_str().unwrap().contains(reason), "{problem}");
    }
    assert_eq!(bus.queue_depth("scripted").await, 0);
    bus.stop().await;
}
