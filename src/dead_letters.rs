//! `lgsp dead-letters list | show | replay | purge`: the dead-letter archive of a running bus,
//! over its HTTP API (`/v1/dead-letters`). The bus checks the filters; a refusal is printed as
//! the bus explains it.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::Value;

use crate::client::{Bus, Connection, Failed, fail};

/// Replays sent at once by `replay --all`.
const REPLAYS_AT_ONCE: usize = 8;
/// The most a list asks for (the bus's own limit).
const MAX_LIMIT: u32 = 1000;

#[derive(Args)]
pub struct DeadLettersArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: DeadLettersCommand,
}

#[derive(Subcommand)]
enum DeadLettersCommand {
    /// List dead letters, newest first.
    List {
        #[command(flatten)]
        filters: Filters,
        /// Print the bus's JSON answer as it came.
        #[arg(long)]
        json: bool,
    },
    /// Show everything archived about one message, its envelope included (JSON).
    Show {
        id: String,
        /// Only this adapter's row.
        #[arg(long)]
        adapter: Option<String>,
    },
    /// Replay one message, or with --all every dead letter the filters select.
    Replay {
        /// The message to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Replay every dead letter (state `dead`) the filters select.
        #[arg(long)]
        all: bool,
        /// Deliver to this adapter (one that takes the type) instead of the one that gave it up:
        /// a removed adapter's dead letters go to the system that replaces it.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        filters: Filters,
    },
    /// Purge one message: the bus keeps it for the audit, never to be replayed.
    Purge {
        id: String,
        /// Only this adapter's row.
        #[arg(long)]
        adapter: Option<String>,
    },
}

/// The list's filters, passed to the bus as they are.
#[derive(Args, Default)]
struct Filters {
    /// Only this adapter's (with `replay ID`: replay only its row).
    #[arg(long)]
    adapter: Option<String>,
    /// Only this message type.
    #[arg(long = "type")]
    message_type: Option<String>,
    /// Dead-lettered at or after (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Dead-lettered before (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// dead (the default), replaying, replayed, purged or all.
    #[arg(long)]
    state: Option<String>,
    /// At most this many, 1 to 1000 (default: 100 listed, 1000 replayed by --all).
    #[arg(long)]
    limit: Option<u32>,
}

impl Filters {
    fn query(&self) -> Vec<(&'static str, String)> {
        let limit = self.limit.map(|n| n.to_string());
        [
            ("adapter", self.adapter.clone()),
            ("type", self.message_type.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
            ("state", self.state.clone()),
            ("limit", limit),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

/// Runs one `dead-letters` command against the bus at `default_bus` unless `--bus` says.
pub async fn run(args: DeadLettersArgs, default_bus: impl FnOnce() -> Result<String, ExitCode>) -> ExitCode {
    let bus = match Bus::connect(args.connection, default_bus).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    let outcome = match args.command {
        DeadLettersCommand::List { filters, json } => list(&bus, &filters, json).await,
        DeadLettersCommand::Show { id, adapter } => show(&bus, &id, adapter).await,
        DeadLettersCommand::Replay { id: Some(id), filters, to, .. } => match filters {
            Filters { adapter, message_type: None, since: None, until: None, state: None, limit: None } => {
                replay_one(&bus, &id, adapter, to).await
            }
            _ => Err(Failed("replay ID takes only --adapter and --to; the other filters go with --all".into())),
        },
        DeadLettersCommand::Replay { id: None, filters, to, .. } => replay_all(&bus, filters, to).await,
        DeadLettersCommand::Purge { id, adapter } => purge(&bus, &id, adapter).await,
    };
    outcome.unwrap_or_else(fail)
}

fn adapter_query(adapter: Option<String>) -> Vec<(&'static str, String)> {
    adapter.map(|a| ("adapter", a)).into_iter().collect()
}

async fn list(bus: &Bus, filters: &Filters, json: bool) -> Result<ExitCode, Failed> {
    let body = bus.call(Method::GET, "/v1/dead-letters", &filters.query()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let rows = body["dead_letters"].as_array().cloned().unwrap_or_default();
    let text = |row: &Value, key: &str| match &row[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let columns = ["id", "adapter", "type", "subject", "seq", "attempts", "dead_at", "state", "last_error"];
    let mut table = vec![columns.map(|c| c.replace('_', " ").to_uppercase())];
    for row in &rows {
        let mut line = columns.map(|c| text(row, c));
        // One line per message: the error cut short (`show` has it whole).
        if line[8].chars().count() > 80 {
            line[8] = line[8].chars().take(79).chain(['…']).collect();
        }
        table.push(line);
    }
    let widths: Vec<usize> =
        (0..columns.len()).map(|i| table.iter().map(|line| line[i].chars().count()).max().unwrap_or(0)).collect();
    for line in &table {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("{} of {} shown", rows.len(), body["total"]);
    Ok(ExitCode::SUCCESS)
}

async fn show(bus: &Bus, id: &str, adapter: Option<String>) -> Result<ExitCode, Failed> {
    let body = bus.call(Method::GET, &format!("/v1/dead-letters/{id}"), &adapter_query(adapter)).await?;
    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

async fn replay_one(bus: &Bus, id: &str, adapter: Option<String>, to: Option<String>) -> Result<ExitCode, Failed> {
    let mut query = adapter_query(adapter);
    query.extend(to.clone().map(|to| ("to", to)));
    let body = bus.call(Method::POST, &format!("/v1/dead-letters/{id}/replay"), &query).await?;
    match to {
        Some(to) => println!("{id}: {}'s replayed to {to}", names(&body["replayed"])),
        None => println!("{id}: replayed to {}", names(&body["replayed"])),
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays every dead letter the filters select (at most the bus's limit in one run), a few
/// at once, with a progress bar; each failure is reported and makes the exit code 1.
async fn replay_all(bus: &Bus, filters: Filters, to: Option<String>) -> Result<ExitCode, Failed> {
    if filters.state.as_deref().is_some_and(|s| s != "dead") {
        return Err(Failed("replay --all takes the dead letters waiting (state dead) only".into()));
    }
    let filters = Filters { limit: Some(filters.limit.unwrap_or(MAX_LIMIT)), ..filters };
    let body = bus.call(Method::GET, "/v1/dead-letters", &filters.query()).await?;
    let rows = body["dead_letters"].as_array().cloned().unwrap_or_default();
    let total = body["total"].as_u64().unwrap_or(0);
    if rows.is_empty() {
        println!("no dead letter to replay");
        return Ok(ExitCode::SUCCESS);
    }
    let progress = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} replayed {msg}").expect("a valid progress template"),
    );
    let replays = rows.iter().map(|row| {
        let (id, adapter) = (row["id"].as_str().unwrap_or_default(), row["adapter"].as_str().unwrap_or_default());
        let mut query = vec![("adapter", adapter.to_string())];
        query.extend(to.clone().map(|to| ("to", to)));
        async move { (id, adapter, bus.call(Method::POST, &format!("/v1/dead-letters/{id}/replay"), &query).await) }
    });
    let mut replays = futures::stream::iter(replays).buffer_unordered(REPLAYS_AT_ONCE);
    let mut failures = Vec::new();
    while let Some((id, adapter, outcome)) = replays.next().await {
        if let Err(Failed(why)) = outcome {
            failures.push(format!("{id} ({adapter}): {why}"));
            progress.set_message(format!("({} failed)", failures.len()));
        }
        progress.inc(1);
    }
    progress.finish();
    println!("replayed {} of {}", rows.len() - failures.len(), rows.len());
    if total > rows.len() as u64 {
        println!("{} more match: run it again for the rest", total - rows.len() as u64);
    }
    for failure in &failures {
        eprintln!("lgsp: not replayed: {failure}");
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn purge(bus: &Bus, id: &str, adapter: Option<String>) -> Result<ExitCode, Failed> {
    let body = bus.call(Method::DELETE, &format!("/v1/dead-letters/{id}"), &adapter_query(adapter)).await?;
    println!("{id}: purged for {} (kept for the audit)", names(&body["purged"]));
    Ok(ExitCode::SUCCESS)
}

fn names(list: &Value) -> String {
    let names: Vec<&str> = list.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    names.join(", ")
}
