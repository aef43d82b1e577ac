//! The broker dies (`kill -9`) in the middle of a stream and comes back: the bus says so while
//! it is down (503 with Retry-After, /readyz 503), recovers by itself, and every message it
//! answered 202 reaches the portal exactly once, each dossier ending at its newest state; and
//! the dead-letter keeper, like every consumer, resumes on the new connection. And a broker that
//! takes a connection but never answers on it does not hold the bus back.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Harness, dossier, status_changed};
use lgsp::rabbitmq::PrivateBroker;
use lgsp_bus::testing::amqp_url;
use lgsp_dvc::sim::Behaviour;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

const DOSSIERS: u32 = 20;
const CHANGES: u64 = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_crash_mid_stream_loses_nothing_that_was_accepted() {
    let broker = PrivateBroker::start().unwrap();
    let h = Arc::new(Harness::start_on(&broker.url()).await);
    let accepted = Arc::new(AtomicUsize::new(0));
    let a_third = Arc::new(Notify::new());
    let refusals = Arc::new(AtomicUsize::new(0));

    // Each dossier's changes in order, dossiers at once; a 503 is retried, as a member would.
    let senders = (1..=DOSSIERS).map(|n| {
        let (h, accepted, a_third, refusals) = (h.clone(), accepted.clone(), a_third.clone(), refusals.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for seq in 1..=CHANGES {
                let message = status_changed(&dossier(n), seq, (seq % 8 + 1) as u8);
                loop {
                    let response = h.api.http.post(format!("{}/v1/messages", h.api.base)).json(&message).send().await;
                    match response.map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after"))) {
                        Ok((202 | 200, _)) => break,
                        Ok((503, true)) => {
                            refusals.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        other => panic!("unexpected answer {other:?}"),
                    }
                }
                ids.push(message["id"].as_str().unwrap().to_string());
                if accepted.fetch_add(1, Ordering::Relaxed) + 1 == (DOSSIERS as usize * CHANGES as usize) / 3 {
                    a_third.notify_one();
                }
            }
            (dossier(n), ids)
        })
    });
    let senders: Vec<_> = senders.collect();

    a_third.notified().await;
    broker.kill();
    // While it is down the bus says so, and accepts nothing.
    h.bus.as_ref().unwrap().broker.wait_connected(false).await;
    let (ready, body) = h.api.get("/readyz").await;
    assert_eq!((ready, body["broker"].as_str()), (503, Some("down")));
    let probe = status_changed(&dossier(99), 1, 1);
    let response = h.api.http.post(format!("{}/v1/messages", h.api.base)).json(&probe).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    broker.crash_and_restart().unwrap();

    let mut sent: HashMap<String, Vec<String>> = HashMap::new();
    for sender in senders {
        let (code, ids) = sender.await.unwrap();
        sent.insert(code, ids);
    }
    let all: Vec<&String> = sent.values().flatten().collect();
    assert_eq!(all.len(), (DOSSIERS as usize) * (CHANGES as usize));
    // Each dossier's newest state reaches the portal; so does every older one, unless it was in
    // flight when the broker died and came back after a newer one was accepted: it is then
    // superseded, never sent after the newer one (docs/delivery.md, "Ordered, newest state wins").
    let newest: Vec<&String> = sent.values().filter_map(|ids| ids.last()).collect();
    let settled = h
        .portal
        .wait_until(Duration::from_secs(60), |s| {
            let delivered = s.delivered_message_ids();
            newest.iter().all(|id| delivered.contains(id))
        })
        .await;
    let delivered = h.portal.delivered_message_ids();
    let mut lost = Vec::new();
    for id in all.iter().filter(|id| !delivered.contains(id)) {
        let superseded = h.api.wait_get(&format!("/v1/messages/{id}"), |_, m| m["state"] != "accepted").await;
        if superseded["state"] != "superseded" {
            lost.push(id);
        }
    }
    if !(settled && lost.is_empty()) {
        let mut seen = Vec::new();
        for id in &lost {
            seen.push(h.api.get(&format!("/v1/messages/{id}")).await);
        }
        panic!("lost {} accepted messages: {lost:?}; the bus says {seen:#?}", lost.len());
    }
    let mut counts: HashMap<&String, usize> = HashMap::new();
    for id in &delivered {
        *counts.entry(id).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "delivered twice: {duplicated:?}");
    for code in sent.keys() {
        let last = h.portal.statuses(code).last().cloned();
        assert_eq!(last.as_deref(), Some(((CHANGES % 8) + 1).to_string().as_str()), "{code} ends at its newest state");
    }
    assert_eq!(h.api.get("/readyz").await.0, 200);
    assert!(refusals.load(Ordering::Relaxed) > 0, "the senders met the outage (503, Retry-After)");

    // The dead-letter keeper came back with the other consumers: a refusal is archived.
    let refused = dossier(98);
    h.portal.set_behaviour(Behaviour { refuse_dossiers: vec![refused.clone()], ..Default::default() });
    let poison = status_changed(&refused, 1, 4);
    assert_eq!(h.api.post(&poison).await.0, 202);
    h.operator.wait_dead_letter(poison["id"].as_str().unwrap(), "dvc", "dead").await;
    Arc::try_unwrap(h).ok().unwrap().stop().await;
}

/// The bus's first connection lands on a broker that accepts it and then says nothing (as one
/// still booting, or half dead, can); the attempt is given up after `amqp.connect_timeout` and
/// the next one, which reaches a broker that answers, makes the bus ready and delivering.
#[tokio::test]
async fn a_broker_that_never_answers_a_connection_does_not_hold_the_bus_back() {
    let broker = url::Url::parse(&amqp_url()).unwrap();
    let broker_at = format!("{}:{}", broker.host_str().unwrap(), broker.port().unwrap_or(5672));
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut through = broker.clone();
    through.set_port(Some(front.local_addr().unwrap().port())).unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let holding = held.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = front.accept().await.unwrap();
            let mut held = holding.lock().unwrap();
            if held.is_empty() {
                held.push(client); // kept open and never answered
                continue;
            }
            let broker_at = broker_at.clone();
            tokio::spawn(async move {
                let mut server = TcpStream::connect(broker_at).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });

    let overrides = vec![("LGSP__AMQP__CONNECT_TIMEOUT", "1s".to_string())];
    let h = tokio::time::timeout(Duration::from_secs(60), Harness::start_with(through.as_str(), overrides))
        .await
        .expect("the bus never became ready: it waits on the broker that does not answer");
    assert_eq!(held.lock().unwrap().len(), 1, "the first connection went to the silent broker");
    let message = status_changed(&dossier(1), 1, 2);
    assert_eq!(h.api.post(&message).await.0, 202);
    h.wait_portal_has(message["id"].as_str().unwrap()).await;
    h.stop().await;
}
