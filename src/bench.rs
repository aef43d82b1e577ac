//! `lgsp bench`: the bus end to end against the broker's own limit, in one run, on one broker.
//!
//! (a) raw: lapin publishes the same envelopes to a quorum queue (persistent, confirms, a window
//!     of unconfirmed publishes) while consuming them (prefetch, batched acks): the most the
//!     broker does here.
//! (b) bus: the bus runs as its own process on the given config; the bench posts the envelopes
//!     over HTTP and the portal simulator (in this process) records each one's arrival. That is
//!     HTTP in → validation → confirm → queue → dvc adapter → portal → ack → store.
//!
//! It prints both rates, their ratio, the end-to-end latency percentiles and the bus's peak RSS.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use lgsp_bus::config::Config;
use lgsp_bus::transport::Names;
use lgsp_dvc::sim::{PortalSim, SimOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Messages sent through each path.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Dossiers the status changes are spread over (each gets messages/dossiers, in seq order).
    #[arg(long, default_value_t = 2_000)]
    pub dossiers: usize,
    /// Concurrent HTTP requests into the bus.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Unconfirmed publishes in flight in the raw run.
    #[arg(long, default_value_t = 1_000)]
    pub in_flight: usize,
}

pub async fn run(config_path: &Path, config: &Config, args: Args) -> anyhow::Result<()> {
    if args.messages == 0 || args.dossiers == 0 || args.concurrency == 0 {
        bail!("--messages, --dossiers and --concurrency must be at least 1");
    }
    let member = config.members.keys().next().context("the config has no [members]: the bench sends as one")?;
    let envelopes = envelopes(&args, member);
    let size = envelopes.iter().map(Vec::len).sum::<usize>() / envelopes.len();
    let url = config.amqp.connect_url().to_string();
    println!(
        "lgsp bench: {} messages of {size} bytes over {} dossiers; broker {}",
        args.messages, args.dossiers, config.amqp.url
    );

    let namespace = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let raw = raw(&url, &namespace, &envelopes, args.in_flight).await.context("raw broker run")?;
    println!("(a) raw broker, lapin, quorum queue, confirms + acks:  {:>8.0} msg/s", raw);

    let bus = bus(config_path, config, &namespace, &envelopes, args.concurrency).await.context("bus run")?;
    println!("(b) bus end to end, HTTP → broker → dvc → portal:     {:>8.0} msg/s", bus.rate);
    println!("ratio b/a: {:.2}", bus.rate / raw);
    println!(
        "end-to-end latency (POST sent → portal received): p50 {:.1} ms, p99 {:.1} ms",
        ms(bus.p50),
        ms(bus.p99)
    );
    println!("bus peak RSS: {:.0} MB", bus.peak_rss_kb as f64 / 1024.0);
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Status changes of about 1 KiB, each dossier's in seq order.
fn envelopes(args: &Args, member: &str) -> Vec<Vec<u8>> {
    (0..args.messages)
        .map(|n| {
            let dossier = format!("000.00.01.H42-261120-{:06}", n % args.dossiers);
            let seq = (n / args.dossiers + 1) as u64;
            let envelope = json!({
                "id": uuid::Uuid::now_v7(),
                "type": "dossier.status_changed",
                "source": member,
                "subject": dossier,
                "seq": seq,
                "occurred_at": "2026-11-20T09:15:00+07:00",
                "payload": {
                    "dossier_code": dossier,
                    "procedure_code": "1.001234",
                    "procedure_name": "Đăng ký thường trú",
                    "agency_code": "000.00.01.H42",
                    "status": 4,
                    "received_at": "2026-11-20T08:30:00+07:00",
                    "due_at": "2026-11-27T17:00:00+07:00",
                    "applicant": {"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn An"},
                    "channel": "online",
                    "summary": "Đăng ký thường trú tại xã Thạch Hà, tỉnh Hà Tĩnh. ".repeat(9),
                }
            });
            serde_json::to_vec(&envelope).expect("serialisable")
        })
        .collect()
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
        Ok::<Instant, lapin::Error>(Instant::now())
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
    let finished = consuming.await??;
    let rate = total as f64 / finished.duration_since(started).as_secs_f64();
    publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
    let _ = connection.close(200, "bench done".into()).await;
    Ok(rate)
}

struct BusRun {
    rate: f64,
    p50: Duration,
    p99: Duration,
    peak_rss_kb: u64,
}

async fn bus(config_path: &Path, config: &Config, namespace: &str, bodies: &[Vec<u8>], concurrency: usize) -> anyhow::Result<BusRun> {
    let dvc = config.adapters.get("dvc").context("the config has no [adapters.dvc]: the bench delivers to the portal")?;
    let username = dvc.settings.get("username").and_then(|u| u.as_str()).unwrap_or("lgsp").to_string();
    let password = "bench-secret".to_string();
    let sim = PortalSim::start("127.0.0.1:0".parse()?, SimOptions { username, password: password.clone(), ..Default::default() })
        .await?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(config_path)
        .arg("serve")
        .env("LGSP__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("LGSP__STORE__URL", format!("sqlite://{}", dir.path().join("bench.db").display()))
        .env("LGSP__AMQP__NAMESPACE", namespace)
        .env("LGSP__ADAPTERS__DVC__URL", sim.url().as_str())
        .env("LGSP__ADAPTERS__DVC__PASSWORD", &password)
        .env("LGSP_LOG", std::env::var("LGSP_LOG").unwrap_or_else(|_| "warn".into()))
        .kill_on_drop(true)
        .spawn()
        .context("starting the bus")?;
    let pid = child.id().context("the bus exited at once")?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    wait_ready(&client, &base, &mut child).await?;

    let total = bodies.len();
    let started = Instant::now();
    let wall_start = OffsetDateTime::now_utc();
    let sent: HashMap<String, OffsetDateTime> = futures::stream::iter(bodies)
        .map(|body| {
            let client = &client;
            let base = &base;
            async move {
                let id = serde_json::from_slice::<Value>(body)?["id"].as_str().unwrap_or_default().to_string();
                loop {
                    let at = OffsetDateTime::now_utc();
                    let response = client
                        .post(format!("{base}/v1/messages"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    match response.status().as_u16() {
                        202 => return Ok::<_, anyhow::Error>((id, at)),
                        503 => tokio::time::sleep(Duration::from_millis(100)).await,
                        status => bail!("the bus answered {status}: {}", response.text().await.unwrap_or_default()),
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;

    let delivered = sim
        .wait_until(Duration::from_secs(600), |state| {
            state.calls.iter().filter(|c| c.service == "DongBoHoSoMC").map(|c| c.message_ids.len()).sum::<usize>()
                >= total
        })
        .await;
    let elapsed = started.elapsed();
    if !delivered {
        bail!("not every message reached the portal within 10 minutes");
    }
    let mut latencies = Vec::with_capacity(total);
    let mut last = wall_start;
    for call in sim.calls().iter().filter(|c| c.service == "DongBoHoSoMC") {
        for id in &call.message_ids {
            if let Some(at) = sent.get(id) {
                latencies.push((call.at - *at).try_into().unwrap_or_default());
                last = last.max(call.at);
            }
        }
    }
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let peak_rss_kb = peak_rss_kb(pid).unwrap_or(0);
    let delivered_for = (last - wall_start).try_into().unwrap_or(elapsed);

    let _ = tokio::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    cleanup(config, namespace).await;
    Ok(BusRun {
        rate: total as f64 / Duration::as_secs_f64(&delivered_for),
        p50: percentile(0.50),
        p99: percentile(0.99),
        peak_rss_kb,
    })
}

async fn wait_ready(client: &reqwest::Client, base: &str, child: &mut tokio::process::Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the bus exited ({status}) before it was ready");
        }
        if Instant::now() > deadline {
            bail!("the bus was not ready within 60 s (is RabbitMQ running?)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// VmHWM: the most resident memory the process has had.
fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or_else(|| anyhow!("no VmHWM"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// Removes the bench's queues and exchange from the broker.
async fn cleanup(config: &Config, namespace: &str) {
    let Ok(connection) = Connection::connect(config.amqp.connect_url().as_str(), Default::default()).await else { return };
    let Ok(channel) = connection.create_channel().await else { return };
    let names = Names::new(namespace);
    for (id, section) in &config.adapters {
        let mut queues = vec![names.queue(id), names.dead_letter_queue(id)];
        queues.extend(section.delivery.retry_tiers.iter().map(|t| names.retry_queue(id, *t)));
        for queue in queues {
            let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
        }
    }
    let _ = channel.exchange_delete(names.exchange().into(), Default::default()).await;
    let _ = connection.close(200, "bench done".into()).await;
}
