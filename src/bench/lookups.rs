//! Lookup mode: `citizen.verify` straight from the population adapter to its simulator (a),
//! against the same lookups through the bus (b): HTTP → validation → broker (direct reply-to) →
//! adapter → simulator → broker → reply check → audit record → HTTP. The difference is what the
//! bus adds.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use lgsp_bus::config::Config;
use lgsp_bus::{AdapterKind, BuildContext, ServiceRequest};
use lgsp_population::{PopulationKind, PopulationSim};
use serde_json::{Value, json};

use super::{Args, BusProcess, ms, percentile};

const SERVICE: &str = "citizen.verify";

struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

pub async fn run(config_path: &Path, config: &Config, args: &Args) -> anyhow::Result<()> {
    if args.lookups == 0 || args.lookup_concurrency == 0 {
        bail!("--lookups and --lookup-concurrency must be at least 1");
    }
    let section =
        config.adapters.get("population").context("the config has no [adapters.population] to look citizens up")?;
    let member = super::MEMBER.to_string();
    println!(
        "lgsp bench --mode lookups: {} citizen.verify, {} at once; broker {}",
        args.lookups, args.lookup_concurrency, config.amqp.url
    );
    let sim = PopulationSim::start("127.0.0.1:0".parse()?, Default::default()).await?;
    let requests = requests(args.lookups);

    let mut settings = section.settings.clone();
    settings.insert("url".into(), sim.url().to_string().into());
    let adapter =
        PopulationKind.build("population", &settings, &BuildContext::ephemeral("population")).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("adapters.population: {}", lines.join("; "))
        })?;
    let direct = measure(&requests, args.lookup_concurrency, |body| {
        let adapter = adapter.clone();
        let request = ServiceRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            service: SERVICE.into(),
            member: member.clone(),
            body: body.clone(),
        };
        async move { adapter.call(&request).await.map(drop).map_err(|e| anyhow::anyhow!("{e:?}")) }
    })
    .await
    .context("direct lookups")?;

    let namespace = super::namespace();
    let env = [("LGSP__ADAPTERS__POPULATION__URL", sim.url().to_string())];
    let bus = BusProcess::start(config_path, config, &namespace, &env, args.lookup_concurrency, true).await?;
    let url = format!("{}/v1/services/{SERVICE}", bus.base);
    let through = measure(&requests, args.lookup_concurrency, |body| {
        let request = bus.client.post(&url).json(body);
        async move {
            let response = request.send().await?;
            match response.status().as_u16() {
                200 => Ok(()),
                status => bail!("the bus answered {status}: {}", response.text().await.unwrap_or_default()),
            }
        }
    })
    .await
    .context("lookups through the bus");
    let usage = bus.stop(config).await;
    let through = through?;

    let line = |label: &str, m: &Measured| {
        println!("{label} {:>7.0} lookups/s   p50 {:>5.2} ms   p99 {:>5.2} ms", m.rate, ms(m.p50), ms(m.p99));
    };
    line("(a) adapter → simulator, directly:       ", &direct);
    line("(b) HTTP → bus → broker → adapter → sim:", &through);
    println!(
        "the bus adds: p50 {:+.2} ms, p99 {:+.2} ms (target: at most 2 ms at p99)",
        ms(through.p50) - ms(direct.p50),
        ms(through.p99) - ms(direct.p99)
    );
    println!("bus process: peak RSS {:.0} MB; store: {}", usage.peak_rss_kb as f64 / 1024.0, usage.store);
    Ok(())
}

/// The sandbox's three outcomes in turn: a match with a field, a mismatch, not found.
fn requests(count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| {
            let dossier = format!("000.00.01.H42-261120-{:04}", n % 10_000);
            match n % 3 {
                0 => json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                            "dossier_code": dossier, "fields": ["permanent_address"]}),
                1 => json!({"cccd": "042198000002", "full_name": "Trần Thị Bình", "date_of_birth": "1999-07-02",
                            "dossier_code": dossier}),
                _ => json!({"cccd": "079300000099", "full_name": "Lê Văn C", "date_of_birth": "2000-01-01",
                            "dossier_code": dossier}),
            }
        })
        .collect()
}

/// Runs every request, `concurrency` at once, after a short warm-up; each is timed alone.
async fn measure<F, Fut>(requests: &[Value], concurrency: usize, call: F) -> anyhow::Result<Measured>
where
    F: Fn(&Value) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let timed = |body: &Value| {
        let call = call(body);
        async move {
            let started = Instant::now();
            call.await.map(|()| started.elapsed())
        }
    };
    let warm_up = requests.len().min(100);
    for result in
        futures::stream::iter(&requests[..warm_up]).map(timed).buffer_unordered(concurrency).collect::<Vec<_>>().await
    {
        result?;
    }
    let started = Instant::now();
    let mut latencies = futures::stream::iter(requests)
        .map(timed)
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<Duration>>>()?;
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Measured {
        rate: requests.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}
