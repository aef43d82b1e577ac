//! `lgsp adapters list | show | register FILE | update ID FILE | approve | reject | pause |
//! resume | remove | test`: the adapters of a running bus over its HTTP API (`/v1/adapters`), with the
//! API's errors. An agency's member registers its own systems; an admin approves them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Bus, Connection, Failed, fail};

#[derive(Args)]
pub struct AdaptersArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: AdaptersCommand,
}

#[derive(Subcommand)]
enum AdaptersCommand {
    /// Every adapter, a line each: id, state, routes; then every registration: id, state, owner.
    List {
        /// Print the bus's JSON answer as it came.
        #[arg(long)]
        json: bool,
    },
    /// One running adapter: its state, routes, services, breaker and delivery policy (JSON).
    Show { id: String },
    /// Register an adapter from a JSON file (see config/examples/land-registration.json): a
    /// member's waits for an admin; an admin's runs at once.
    Register { file: PathBuf },
    /// Change a registered adapter from a JSON file; a running one changes live.
    Update { id: String, file: PathBuf },
    /// Approve a pending registration (an admin): it runs now.
    Approve { id: String },
    /// Reject a pending registration (an admin), saying what to change.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Stop consuming an adapter's messages; they wait in its queue (an operator).
    Pause { id: String },
    /// Consume a paused adapter's messages again (an operator).
    Resume { id: String },
    /// Remove an adapter: what is queued for it goes to its dead-letter archive, replayable
    /// elsewhere (an admin, or the registration's owner).
    Remove { id: String },
    /// Send a test message through the whole path to the adapter's peer and print what the
    /// peer answered (an operator, or the registration's owner); fails when the delivery did.
    Test {
        id: String,
        /// A type the adapter takes; by default the one its first route names.
        #[arg(long = "type")]
        message_type: Option<String>,
        /// A JSON file with the payload; by default the type's example.
        #[arg(long)]
        payload: Option<PathBuf>,
    },
}

pub async fn run(args: AdaptersArgs, default_bus: impl FnOnce() -> Result<String, ExitCode>) -> ExitCode {
    let bus = match Bus::connect(args.connection, default_bus).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    let path = |id: &str, action: &str| format!("/v1/adapters/{id}{action}");
    let outcome = match args.command {
        AdaptersCommand::List { json } => bus.call(Method::GET, "/v1/adapters", &[]).await.map(|body| {
            if json {
                println!("{body}");
            } else {
                print_list(&body);
            }
        }),
        AdaptersCommand::Show { id } => bus.call(Method::GET, &path(&id, ""), &[]).await.map(print_pretty),
        AdaptersCommand::Register { file } => match read(&file) {
            Ok(body) => bus.send(Method::POST, "/v1/adapters", &[], Some(&body)).await.map(print_registration),
            Err(failed) => Err(failed),
        },
        AdaptersCommand::Update { id, file } => match read(&file) {
            Ok(body) => bus.send(Method::PUT, &path(&id, ""), &[], Some(&body)).await.map(print_registration),
            Err(failed) => Err(failed),
        },
        AdaptersCommand::Approve { id } => {
            bus.call(Method::POST, &path(&id, "/approve"), &[]).await.map(print_registration)
        }
        AdaptersCommand::Reject { id, reason } => {
            let body = json!({ "reason": reason });
            bus.send(Method::POST, &path(&id, "/reject"), &[], Some(&body)).await.map(print_registration)
        }
        AdaptersCommand::Pause { id } => bus.call(Method::POST, &path(&id, "/pause"), &[]).await.map(print_state),
        AdaptersCommand::Resume { id } => bus.call(Method::POST, &path(&id, "/resume"), &[]).await.map(print_state),
        AdaptersCommand::Test { id, message_type, payload } => match payload.as_ref().map(read).transpose() {
            Ok(payload) => {
                let mut body = json!({});
                if let Some(message_type) = message_type {
                    body["type"] = json!(message_type);
                }
                if let Some(payload) = payload {
                    body["payload"] = payload;
                }
                bus.send(Method::POST, &path(&id, "/test"), &[], Some(&body)).await.and_then(print_test)
            }
            Err(failed) => Err(failed),
        },
        AdaptersCommand::Remove { id } => bus.call(Method::DELETE, &path(&id, ""), &[]).await.map(|_| {
            println!("{id}: removed; what was queued for it goes to its dead-letter archive");
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => fail(failed),
    }
}

fn read(file: &PathBuf) -> Result<Value, Failed> {
    let text = std::fs::read_to_string(file).map_err(|e| Failed(format!("cannot read {}: {e}", file.display())))?;
    serde_json::from_str(&text).map_err(|e| Failed(format!("{} is not JSON: {e}", file.display())))
}

fn print_list(body: &Value) {
    for adapter in body["adapters"].as_array().into_iter().flatten() {
        let routes: Vec<&str> = adapter["routes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let queued = adapter["queue"]["messages"].as_u64().map_or("-".into(), |n| n.to_string());
        let per_minute = &adapter["activity"]["delivered_per_minute"];
        println!(
            "{}\t{}\t{}\tqueued {queued}\t{per_minute}/min",
            text(&adapter["id"]),
            text(&adapter["state"]),
            routes.join(" ")
        );
    }
    let registrations = body["registrations"].as_array().into_iter().flatten().collect::<Vec<_>>();
    if !registrations.is_empty() {
        println!("registrations:");
    }
    for registration in registrations {
        let reason = registration["reason"].as_str().map(|r| format!("\t{r}")).unwrap_or_default();
        println!(
            "{}\t{}\t{}{reason}",
            text(&registration["id"]),
            text(&registration["state"]),
            text(&registration["owner"])
        );
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn print_pretty(body: Value) {
    println!("{}", serde_json::to_string_pretty(&body).expect("JSON prints"));
}

fn print_registration(body: Value) {
    let waiting = if body["state"] == "pending" { " (waiting for an admin to approve it)" } else { "" };
    println!("{}: {}{waiting}", text(&body["id"]), text(&body["state"]));
}

fn print_state(body: Value) {
    println!("{}: {}", text(&body["id"]), text(&body["state"]));
}

/// The test's outcome; a failed delivery fails the command.
fn print_test(body: Value) -> Result<(), Failed> {
    let outcome = text(&body["outcome"]);
    println!("{} {}: {outcome} in {} ms", text(&body["type"]), text(&body["message_id"]), body["took_ms"]);
    if let Some(answer) = body["peer_answer"].as_str() {
        println!("peer answered: {answer}");
    }
    match body["error"].as_str() {
        Some(error) if outcome == "failed" => {
            let kind = if body["permanent"] == true { "permanent" } else { "transient" };
            Err(Failed(format!("{kind} failure: {error}")))
        }
        _ => Ok(()),
    }
}
