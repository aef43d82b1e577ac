//! Message mode: (a) the broker's own limit, raw lapin through a quorum queue, against (b) the
//! bus end to end, HTTP → validation → confirm → queue → dvc adapter → portal → store → ack.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use lgsp_bus::config::Config;
use lgsp_dvc::sim::{PortalSim, SimOptions};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::{Args, BusProcess, ms, percentile};

pub async fn run(config_path: &Path, config: &Config, args: &Args) -> anyhow::Result<()> {
    if args.messages == 0 || args.dossiers == 0 || args.concurrency == 0 {
        bail!("--messages, --dossiers and --concurrency must be at least 1");
    }
    let member = super::MEMBER;
    let envelopes = envelopes(args, member, "261120");
    let size = envelopes.iter().map(Vec::len).sum::<usize>() / envelopes.len();
    println!(
        "lgsp bench: {} messages of {size} bytes over {} dossiers; broker {}",
        args.messages, args.dossiers, config.amqp.url
    );

    let namespace = super::namespace();
    let url = config.amqp.connect_url().to_string();
    let raw = raw(&url, &namespace, &envelopes, args.in_flight).await.context("raw broker run")?;
    println!("(a) raw broker, lapin, quorum queue, confirms + acks:  {:>8.0} msg/s", raw);

    // One bus per trust setting, each on dossiers of its own days. They run side by side and take
    // turns, round after round, so that whatever else the machine does meanwhile falls on both.
    let mut sides = Vec::new();
    for (index, trust) in args.trust.runs().into_iter().enumerate() {
        let days = [format!("2611{:02}", 20 + 2 * index), format!("2611{:02}", 21 + 2 * index)];
        let single = if index == 0 { envelopes.clone() } else { self::envelopes(args, member, &days[0]) };
        let mut forms = vec![(1, single)];
        if args.batch > 1 {
            forms.push((args.batch, self::envelopes(args, member, &days[1])));
        }
        let namespace = format!("{namespace}{index}");
        let (portal, bus) = portal_and_bus(config_path, config, &namespace, args.concurrency, trust).await?;
        let results = vec![Run::default(); forms.len()];
        sides.push(Side { trust, forms, portal, bus, results });
    }
    // Rounds take whole turns of the dossiers (each dossier's changes stay in seq order).
    let rounds = args.rounds.clamp(1, (args.messages / args.dossiers).max(1));
    let per_round = (args.messages / rounds).div_ceil(args.dossiers) * args.dossiers;
    for round in 0..rounds {
        for form in 0..sides[0].forms.len() {
            let mut order: Vec<usize> = (0..sides.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for side in order {
                let side = &mut sides[side];
                let (per_request, bodies) = &side.forms[form];
                let Some(part) = bodies.chunks(per_round).nth(round) else { continue };
                let run = drive(&side.bus, &side.portal, part, *per_request, args).await.context("bus run")?;
                side.results[form].add(run);
            }
        }
    }

    let mut rates = Vec::new();
    let mut cpu = Vec::new();
    for side in sides {
        let usage = side.bus.stop(config).await;
        let label =
            if side.trust { "trust on: tokens, rights, message log" } else { "trust off: no auth, no message log" };
        println!("{label}");
        for ((per_request, _), run) in side.forms.iter().zip(&side.results) {
            let form = if *per_request == 1 {
                "1 message per request".to_string()
            } else {
                format!("{per_request} per request")
            };
            println!("(b) bus end to end, {form:<22} {:>8.0} msg/s   ratio b/a {:.2}", run.rate(), run.rate() / raw);
            println!(
                "    latency, POST sent → portal received: p50 {:.1} ms, p99 {:.1} ms; {:.1} dossiers per portal call",
                ms(run.percentile(0.50)),
                ms(run.percentile(0.99)),
                run.per_call()
            );
        }
        let total: usize = side.forms.iter().map(|(_, bodies)| bodies.len()).sum();
        let cpu_per_message = usage.cpu_seconds / total as f64 * 1e6;
        println!(
            "bus process: peak RSS {:.0} MB, CPU {cpu_per_message:.0} µs per message; store: {}",
            usage.peak_rss_kb as f64 / 1024.0,
            usage.store
        );
        rates.push(side.results.iter().map(Run::rate).collect::<Vec<_>>());
        cpu.push(cpu_per_message);
    }
    if let ([on, off], [cpu_on, cpu_off]) = (rates.as_slice(), cpu.as_slice()) {
        println!("{rounds} rounds, the two buses taking turns");
        for ((per_request, on), off) in [1, args.batch].iter().zip(on).zip(off) {
            println!(
                "cost of trust, {per_request} per request: {:.1} % of throughput ({on:.0} against {off:.0} msg/s)",
                (1.0 - on / off) * 100.0
            );
        }
        println!(
            "cost of trust, CPU: {:+.1} % per message ({cpu_on:.0} against {cpu_off:.0} µs)",
            (cpu_on / cpu_off - 1.0) * 100.0
        );
    }
    Ok(())
}

/// One bus of the comparison, the messages it is sent and what it did with them.
struct Side {
    trust: bool,
    /// (messages per request, bodies) for each form of the run.
    forms: Vec<(usize, Vec<Vec<u8>>)>,
    portal: PortalSim,
    bus: BusProcess,
    /// Per form, its rounds together.
    results: Vec<Run>,
}

/// The portal simulator, and the bus as its own process delivering to it.
pub(super) async fn portal_and_bus(
    config_path: &Path,
    config: &Config,
    namespace: &str,
    concurrency: usize,
    trust: bool,
) -> anyhow::Result<(PortalSim, BusProcess)> {
    let dvc =
        config.adapters.get("dvc").context("the config has no [adapters.dvc]: the bench delivers to the portal")?;
    let username = dvc.settings.get("username").and_then(|u| u.as_str()).unwrap_or("lgsp").to_string();
    let password = "bench-secret";
    let portal = PortalSim::start(
        "127.0.0.1:0".parse()?,
        SimOptions { username, password: password.into(), ..Default::default() },
    )
    .await?;
    let env =
        [("LGSP__ADAPTERS__DVC__URL", portal.url().to_string()), ("LGSP__ADAPTERS__DVC__PASSWORD", password.into())];
    let bus = BusProcess::start(config_path, config, namespace, &env, concurrency, trust)
        .await
        .context("starting the bus")?;
    Ok((portal, bus))
}

/// What one or more rounds of a run gave.
#[derive(Clone, Default)]
struct Run {
    messages: usize,
    /// From the first POST to the portal receiving the last message, summed over rounds.
    elapsed: Duration,
    /// POST sent → portal received, of every message.
    latencies: Vec<Duration>,
    /// DongBoHoSoMC calls the portal took.
    calls: usize,
}

impl Run {
    fn add(&mut self, other: Run) {
        self.messages += other.messages;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort();
        self.calls += other.calls;
    }

    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// Dossiers per portal call.
    fn per_call(&self) -> f64 {
        self.messages as f64 / self.calls.max(1) as f64
    }
}

/// Status changes of about 1 KiB, each dossier's in seq order; `day` keeps runs' dossiers apart.
fn envelopes(args: &Args, member: &str, day: &str) -> Vec<Vec<u8>> {
    (0..args.messages).map(|n| envelope(member, day, n % args.dossiers, (n / args.dossiers + 1) as u64)).collect()
}

/// The `seq`-th status change of dossier number `dossier` of `day`, about 1 KiB.
pub(super) fn envelope(member: &str, day: &str, dossier: usize, seq: u64) -> Vec<u8> {
    let dossier = format!("000.00.01.H42-{day}-{dossier:06}");
    let summary = "Đăng ký thường trú tại xã Thạch Hà, tỉnh Hà Tĩnh. ".repeat(9);
    let envelope = lgsp_bus::simulator::status_changed(uuid::Uuid::now_v7(), member, &dossier, seq, 4, Some(&summary));
    serde_json::to_vec(&envelope).expect("serialisable")
}

/// Publishes and consumes every body through one quorum queue at once; returns msg/s.
async fn raw(url: &str, namespace: &str, bodies: &[Vec<u8>], in_flight: usize) -> anyhow::Result<f64> {
    const PREFETCH: u16 = 500;
    const ACK_EVERY: usize = 100;
    let connection = Connection::connect(url, Default::default()).await?;
    let publisher = connection.create_channel().await?;
    let consumer_channel = connection.create_channel().await?;
    let queue = format!("{namespace}.raw");
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    publisher.queue_declare(queue.as_str().into(), durable, args).await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    consumer_channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let mut consumer = consumer_channel
        .basic_consume(queue.as_str().into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;

    let total = bodies.len();
    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut received = 0;
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            received += 1;
            if received % ACK_EVERY == 0 || received == total {
                delivery.acker.ack(BasicAckOptions { multiple: true }).await?;
            }
            if received == total {
                break;
            }
        }
        // The consumer is handed back so that it is cancelled with its channel, not dropped here.
        Ok::<_, lapin::Error>((Instant::now(), consumer))
    });
    let window = Arc::new(Semaphore::new(in_flight));
    let mut confirms = Vec::with_capacity(total);
    for body in bodies {
        let permit = window.clone().acquire_owned().await?;
        let properties = BasicProperties::default().with_delivery_mode(2);
        let confirm = publisher
            .basic_publish("".into(), queue.as_str().into(), BasicPublishOptions::default(), body, properties)
            .await?;
        confirms.push(tokio::spawn(async move {
            let confirmed = confirm.await;
            drop(permit);
            confirmed
        }));
    }
    for confirm in confirms {
        if !confirm.await??.is_ack() {
            bail!("the broker refused a publish");
        }
    }
    let (finished, consumer) = consuming.await??;
    let rate = total as f64 / finished.duration_since(started).as_secs_f64();
    consumer_channel.close(200, "bench done".into()).await?;
    drop(consumer);
    publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
    let _ = connection.close(200, "bench done".into()).await;
    Ok(rate)
}

/// Posts every body, `per_request` at a time, and waits until the portal has them all. Like a
/// member, it sends a dossier's next change only after the previous one was accepted: bodies go
/// in rounds of one change per dossier, requests of a round concurrently.
async fn drive(
    bus: &BusProcess,
    sim: &PortalSim,
    bodies: &[Vec<u8>],
    per_request: usize,
    args: &Args,
) -> anyhow::Result<Run> {
    let dongbo = |state: &lgsp_dvc::sim::SimState| -> usize {
        state.calls.iter().filter(|c| c.service == "DongBoHoSoMC").map(|c| c.message_ids.len()).sum()
    };
    let calls_before = sim.calls().iter().filter(|c| c.service == "DongBoHoSoMC").count();
    let count = std::cell::Cell::new(0);
    let counted = |state: &lgsp_dvc::sim::SimState| count.set(dongbo(state));
    sim.wait_until(Duration::ZERO, |state| {
        counted(state);
        true
    })
    .await;
    let before = count.get();
    let (client, base) = (&bus.client, &bus.base);
    let url = if per_request == 1 { format!("{base}/v1/messages") } else { format!("{base}/v1/messages/batch") };

    let wall_start = OffsetDateTime::now_utc();
    let mut sent: HashMap<String, OffsetDateTime> = HashMap::with_capacity(bodies.len());
    for round in bodies.chunks(args.dossiers) {
        let requests = round.chunks(per_request).map(|chunk| {
            let ids: Vec<String> = chunk.iter().map(|b| id_of(b)).collect();
            let body = if per_request == 1 {
                chunk[0].clone()
            } else {
                let mut body = b"{\"messages\":[".to_vec();
                body.extend(chunk.join(&b',').iter());
                body.extend(b"]}");
                body
            };
            (ids, body)
        });
        let accepted = futures::stream::iter(requests)
            .map(|(ids, body)| submit(client, &url, ids, body))
            .buffer_unordered(args.concurrency)
            .collect::<Vec<_>>()
            .await;
        for result in accepted {
            sent.extend(result?);
        }
    }

    // Wait for the portal to hold them all; give up once nothing has arrived for 30 s.
    let expected = before + bodies.len();
    while count.get() < expected {
        let now = count.get();
        let arrived = sim
            .wait_until(Duration::from_secs(30), |state| {
                counted(state);
                count.get() > now
            })
            .await;
        if !arrived {
            bail!("the portal holds {} of {} messages and nothing arrived for 30 s", now - before, bodies.len());
        }
    }
    let calls: Vec<_> = sim.calls().into_iter().filter(|c| c.service == "DongBoHoSoMC").skip(calls_before).collect();
    let mut latencies = Vec::with_capacity(bodies.len());
    let mut last = wall_start;
    for call in &calls {
        for id in &call.message_ids {
            if let Some(at) = sent.get(id) {
                latencies.push((call.at - *at).try_into().unwrap_or_default());
                last = last.max(call.at);
            }
        }
    }
    if latencies.is_empty() {
        bail!("the portal received none of this run's messages");
    }
    latencies.sort();
    let elapsed: Duration = (last - wall_start).try_into().unwrap_or_default();
    Ok(Run { messages: bodies.len(), elapsed, latencies, calls: calls.len() })
}

/// Sends one request until it is accepted, retrying while the bus answers 503.
pub(super) async fn submit(
    client: &reqwest::Client,
    url: &str,
    ids: Vec<String>,
    body: Vec<u8>,
) -> anyhow::Result<Vec<(String, OffsetDateTime)>> {
    loop {
        let at = OffsetDateTime::now_utc();
        let response = client.post(url).header("content-type", "application/json").body(body.clone()).send().await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match outcome(status, &text) {
            Submitted::Accepted => return Ok(ids.into_iter().map(|id| (id, at)).collect()),
            // Retrying is safe: ids already accepted answer 200.
            Submitted::Unavailable => tokio::time::sleep(Duration::from_millis(100)).await,
            Submitted::Refused => bail!("the bus answered {status}: {text}"),
        }
    }
}

enum Submitted {
    Accepted,
    Unavailable,
    Refused,
}

/// A single message is accepted with 202; a batch with 200 and every result 202 or 200.
fn outcome(status: u16, text: &str) -> Submitted {
    let results: Vec<u64> = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["results"].as_array().map(|r| r.iter().filter_map(|r| r["status"].as_u64()).collect()))
        .unwrap_or_default();
    match status {
        202 => Submitted::Accepted,
        200 if results.iter().all(|s| *s == 200 || *s == 202) => Submitted::Accepted,
        200 if results.iter().all(|s| [200, 202, 503].contains(s)) => Submitted::Unavailable,
        503 => Submitted::Unavailable,
        _ => Submitted::Refused,
    }
}

fn id_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["id"].as_str().map(String::from)).unwrap_or_default()
}
