//! `lgsp bench --mode fanout`: one bus carrying `--adapters` registered agency systems (200 by
//! default: a province's departments and communes), each an `http` adapter subscribed to its own
//! agency's status changes. It reports how long each registration takes to be effective (the
//! `POST /v1/adapters` answered: queue declared and bound, consumers started), the bus's memory
//! and the broker's queue count and memory before and after, and the throughput of status
//! changes spread over the agencies, each delivered to its agency's system and to the portal.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use lgsp_bus::config::Config;
use lgsp_http::{HttpSim, SimOptions};
use serde_json::{Value, json};

use super::messages::{portal_and_bus, submit};
use super::{Args, ms, percentile};

pub async fn run(config_path: &Path, config: &Config, args: &Args) -> anyhow::Result<()> {
    if args.adapters == 0 || args.messages == 0 || args.dossiers < args.adapters {
        bail!("--adapters and --messages must be at least 1, and --dossiers at least --adapters");
    }
    println!(
        "lgsp bench fanout: {} agency systems, {} status changes over {} dossiers; broker {}",
        args.adapters, args.messages, args.dossiers, config.amqp.url
    );
    let namespace = super::namespace();
    let (portal, mut bus) = portal_and_bus(config_path, config, &namespace, args.concurrency, true).await?;
    let broker_before = BrokerFigures::settled(&args.broker_metrics, 1).await;
    let rss_before = bus.child.rss_kb().unwrap_or(0);
    let settings = toml::toml! { url = "http://127.0.0.1:1/agencies" };
    let agencies = HttpSim::start("127.0.0.1:0".parse()?, SimOptions::from_settings(&settings)?).await?;
    let admin = crate::process::signed_in_client(reqwest::Client::builder(), &bus.base, "admin").await?;

    // Registered one after another, as provincial IT would, each timed to its answer.
    let mut took = Vec::with_capacity(args.adapters);
    for n in 0..args.adapters {
        let id = format!("agency_{n:03}");
        let registration = json!({
            "id": id, "kind": "http", "url": format!("{}agencies", agencies.url()),
            "subscriptions": [{"types": ["dossier.status_changed"], "agencies": [agency(n)]}],
        });
        let started = Instant::now();
        let response = admin.post(format!("{}/v1/adapters", bus.base)).json(&registration).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status != 201 || body["state"] != "approved" {
            bail!("registering {id}: {status} {body}");
        }
        took.push(started.elapsed());
        bus.registered.push(id);
    }
    let total: Duration = took.iter().sum();
    took.sort();
    println!(
        "registration, POST to running: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} in {:.1} s)",
        ms(percentile(&took, 0.50)),
        ms(percentile(&took, 0.99)),
        ms(took[took.len() - 1]),
        took.len(),
        total.as_secs_f64()
    );
    let rss_registered = bus.child.rss_kb().unwrap_or(0);
    let queues_after = broker_before.as_ref().map_or(0, |before| before.queues + args.adapters as u64);
    let broker_after = BrokerFigures::settled(&args.broker_metrics, queues_after).await;

    // Each dossier belongs to one agency; its changes go in seq order, a round at a time.
    let bodies: Vec<Vec<u8>> = (0..args.messages)
        .map(|k| {
            let dossier = k % args.dossiers;
            envelope(dossier % args.adapters, dossier, (k / args.dossiers + 1) as u64)
        })
        .collect();
    let url = format!("{}/v1/messages", bus.base);
    let started = Instant::now();
    for round in bodies.chunks(args.dossiers) {
        let accepted = futures::stream::iter(round.iter().cloned())
            .map(|body| submit(&bus.client, &url, Vec::new(), body))
            .buffer_unordered(args.concurrency)
            .collect::<Vec<_>>()
            .await;
        for result in accepted {
            result?;
        }
    }
    let arrived = std::cell::Cell::new(0);
    while arrived.get() < args.messages {
        let now = arrived.get();
        let more = agencies
            .wait_until(Duration::from_secs(30), |state| {
                arrived.set(state.received().len());
                arrived.get() > now
            })
            .await;
        if !more {
            bail!("the agencies' systems hold {} of {} and nothing arrived for 30 s", arrived.get(), args.messages);
        }
    }
    let elapsed = started.elapsed();
    let portal_has = portal.delivered_message_ids().len();
    let usage = bus.stop(config).await;

    println!(
        "throughput: {:.0} msg/s, each delivered to its agency's system ({} taken) and the portal ({portal_has} so far)",
        args.messages as f64 / elapsed.as_secs_f64(),
        args.messages
    );
    println!(
        "bus process: RSS {:.0} MB before the registrations, {:.0} MB with {} adapters, peak {:.0} MB; CPU {:.0} µs per message",
        rss_before as f64 / 1024.0,
        rss_registered as f64 / 1024.0,
        args.adapters,
        usage.peak_rss_kb as f64 / 1024.0,
        usage.cpu_seconds / args.messages as f64 * 1e6
    );
    match (broker_before, broker_after) {
        (Ok(before), Ok(after)) => println!(
            "broker: {} queues with the bus's own, {} with the adapters ({:+}); memory {:.0} MB, then {:.0} MB ({:+.0} MB)",
            before.queues,
            after.queues,
            after.queues as i64 - before.queues as i64,
            before.memory_mb(),
            after.memory_mb(),
            after.memory_mb() - before.memory_mb()
        ),
        (Err(e), _) | (_, Err(e)) => println!("broker: not measured ({e:#})"),
    }
    Ok(())
}

/// The `n`-th agency of the province.
fn agency(n: usize) -> String {
    format!("000.{:02}.{:02}.H42", n / 100 % 100, n % 100)
}

/// The `seq`-th status change of dossier number `dossier`, which agency number `agency` handles.
fn envelope(agency_number: usize, dossier: usize, seq: u64) -> Vec<u8> {
    let agency = agency(agency_number);
    let code = format!("{agency}-261125-{dossier:06}");
    let mut envelope = lgsp_bus::simulator::status_changed(uuid::Uuid::now_v7(), super::MEMBER, &code, seq, 4, None);
    envelope["payload"]["agency_code"] = json!(agency);
    serde_json::to_vec(&envelope).expect("serialisable")
}

/// What the broker's Prometheus endpoint (the `rabbitmq_prometheus` plugin) says of it.
struct BrokerFigures {
    queues: u64,
    memory_bytes: u64,
}

impl BrokerFigures {
    async fn read(url: &str) -> anyhow::Result<BrokerFigures> {
        let text = reqwest::get(url).await?.error_for_status()?.text().await.with_context(|| url.to_string())?;
        let value = |name: &str| -> anyhow::Result<u64> {
            let line = text.lines().find(|l| l.split_whitespace().next() == Some(name));
            let number = line.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok());
            number.map(|n| n as u64).with_context(|| format!("{url} has no {name}"))
        };
        Ok(BrokerFigures {
            queues: value("rabbitmq_queues")?,
            memory_bytes: value("rabbitmq_process_resident_memory_bytes")?,
        })
    }

    /// The figures once the endpoint counts at least `queues` and the count held for seven
    /// reads a second apart (queues report their metrics every few seconds); after 60 s,
    /// whatever it says.
    async fn settled(url: &str, queues: u64) -> anyhow::Result<BrokerFigures> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut same = 0;
        let mut last = BrokerFigures::read(url).await?;
        while (last.queues < queues || same < 6) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let next = BrokerFigures::read(url).await?;
            same = if next.queues == last.queues { same + 1 } else { 0 };
            last = next;
        }
        Ok(last)
    }

    fn memory_mb(&self) -> f64 {
        self.memory_bytes as f64 / 1024.0 / 1024.0
    }
}
