//! `lgsp bench --mode soak`: the bus under a steady load for a long while, to show its memory
//! stays flat. Status changes go in at `--rate` per second (each dossier's in seq order) for
//! `--duration`; every minute the bus's resident memory and what the portal has received are
//! printed, and at the end the RSS after the first minute (warmed up) against the RSS at the end.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use lgsp_bus::config::Config;
use tokio::sync::Semaphore;

use super::Args;
use super::messages::{envelope, portal_and_bus, submit};

pub async fn run(config_path: &Path, config: &Config, args: &Args) -> anyhow::Result<()> {
    if args.rate == 0 || args.dossiers == 0 || args.duration < Duration::from_secs(120) {
        bail!("--rate and --dossiers must be at least 1 and --duration at least 2m");
    }
    let member = super::MEMBER;
    println!(
        "lgsp bench soak: {} status changes a second over {} dossiers for {}",
        args.rate,
        args.dossiers,
        humantime::format_duration(args.duration)
    );
    let namespace = super::namespace();
    let (portal, bus) = portal_and_bus(config_path, config, &namespace, args.concurrency, true).await?;
    let rss_mb = || bus.child.rss_kb().map_or(f64::NAN, |kb| kb as f64 / 1024.0);
    println!("minute 0: RSS {:.1} MB", rss_mb());

    let started = Instant::now();
    let sent = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(Semaphore::new(args.concurrency));
    // One tick per 10 ms, each sending its share, so the rate is steady within the second.
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let url = format!("{}/v1/messages", bus.base);
    let mut next_minute = Duration::from_secs(60);
    let mut warm_rss = None;
    let mut failed = None;
    while started.elapsed() < args.duration && failed.is_none() {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * args.rate as f64) as usize;
        while sent.load(Ordering::Relaxed) < due {
            let n = sent.fetch_add(1, Ordering::Relaxed);
            let body = envelope(member, "261122", n % args.dossiers, (n / args.dossiers + 1) as u64);
            let permit = in_flight.clone().acquire_owned().await?;
            let (client, url) = (bus.client.clone(), url.clone());
            tokio::spawn(async move {
                if let Err(e) = submit(&client, &url, Vec::new(), body).await {
                    eprintln!("soak: a message was not accepted: {e:#}");
                }
                drop(permit);
            });
        }
        if started.elapsed() >= next_minute {
            let delivered = portal.delivered_message_ids().len();
            let rss = rss_mb();
            println!(
                "minute {}: sent {}, at the portal {delivered}, RSS {rss:.1} MB",
                next_minute.as_secs() / 60,
                sent.load(Ordering::Relaxed)
            );
            warm_rss.get_or_insert(rss);
            if delivered + (args.rate as usize) * 30 < sent.load(Ordering::Relaxed) {
                failed = Some(format!(
                    "the portal is more than 30 s behind ({delivered} of {})",
                    sent.load(Ordering::Relaxed)
                ));
            }
            next_minute += Duration::from_secs(60);
        }
    }
    let end_rss = rss_mb();
    let usage = bus.stop(config).await;
    if let Some(reason) = failed {
        bail!("soak stopped: {reason}");
    }
    let warm = warm_rss.unwrap_or(f64::NAN);
    println!("rss_start: {warm:.1} MB (after the first minute)");
    println!("rss_end: {end_rss:.1} MB");
    println!("rss_growth: {:+.1} %", (end_rss / warm - 1.0) * 100.0);
    println!("peak RSS {:.1} MB; store: {}", usage.peak_rss_kb as f64 / 1024.0, usage.store);
    Ok(())
}
