//! `lgsp members list | show | add | grant | revoke | rotate-secret | remove`: members and their
//! rights on a running bus, over its HTTP API (`/v1/members`, the `admin` role), and
//! `lgsp hash-secret`, the hash of a secret for the config file.

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{Bus, Connection, Failed, fail};

#[derive(Args)]
pub struct MembersArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: MembersCommand,
}

#[derive(Subcommand)]
enum MembersCommand {
    /// Every member, a line each: id, name, whether it has a secret.
    List {
        /// Print the bus's JSON answer as it came.
        #[arg(long)]
        json: bool,
    },
    /// One member and its rights (JSON).
    Show { id: String },
    /// Add a member with no rights; prints its client secret, once.
    Add {
        id: String,
        /// Who it is, for people reading logs and reports.
        #[arg(long)]
        name: String,
    },
    /// Grant a right: --send TYPE… or --receive TYPE… with --agency CODE…, --service NAME
    /// [--field F…] [--procedure P…], --offer SERVICE, or --read-messages / --read-lookups
    /// own|all, --read-dossiers CODE…, --read-reports.
    Grant {
        id: String,
        #[command(flatten)]
        right: Right,
    },
    /// Revoke a right, named as for grant.
    Revoke {
        id: String,
        #[command(flatten)]
        right: Right,
    },
    /// Give a member a new client secret (the old one stops working); prints it, once.
    RotateSecret { id: String },
    /// Remove a member: its tokens stop working at once.
    Remove { id: String },
}

/// One right, as grant and revoke name it.
#[derive(Args)]
struct Right {
    /// Message types it may send (`*` for all), with --agency.
    #[arg(long = "send", num_args = 1.., requires = "agencies")]
    types: Vec<String>,
    /// Message types its registered adapters may receive, with --agency.
    #[arg(long = "receive", num_args = 1.., requires = "agencies")]
    receive: Vec<String>,
    /// Agencies the send or receive right is for (`*` for all).
    #[arg(long = "agency", num_args = 1..)]
    agencies: Vec<String>,
    /// A service its registered adapters may answer (such as land.parcel_lookup).
    #[arg(long)]
    offer: Option<String>,
    /// A service it may ask.
    #[arg(long)]
    service: Option<String>,
    /// Fields of the service (`*` for all).
    #[arg(long = "field", num_args = 1.., requires = "service")]
    fields: Vec<String>,
    /// Only for dossiers of these procedures.
    #[arg(long = "procedure", num_args = 1.., requires = "service")]
    procedures: Vec<String>,
    /// Which messages' state it may read: own or all.
    #[arg(long)]
    read_messages: Option<String>,
    /// Which lookups' audit it may read: own or all.
    #[arg(long)]
    read_lookups: Option<String>,
    /// Dossiers of these agencies it may read.
    #[arg(long, num_args = 1..)]
    read_dossiers: Vec<String>,
    /// The province's reports.
    #[arg(long)]
    read_reports: bool,
}

impl Right {
    /// The body of `POST /v1/members/{id}/grant` or `/revoke`.
    fn body(self) -> Value {
        let mut body = Map::new();
        if !self.types.is_empty() {
            body.insert("send".into(), json!({ "types": self.types, "agencies": self.agencies }));
        }
        if !self.receive.is_empty() {
            body.insert("receive".into(), json!({ "types": self.receive, "agencies": self.agencies }));
        }
        if let Some(service) = self.offer {
            body.insert("offer".into(), json!(service));
        }
        if let Some(service) = self.service {
            body.insert(
                "service".into(),
                json!({ "service": service, "fields": self.fields, "procedures": self.procedures }),
            );
        }
        let reads = self.read_messages.is_some()
            || self.read_lookups.is_some()
            || !self.read_dossiers.is_empty()
            || self.read_reports;
        if reads {
            body.insert(
                "read".into(),
                json!({
                    "messages": self.read_messages.unwrap_or_else(|| "none".into()),
                    "lookups": self.read_lookups.unwrap_or_else(|| "none".into()),
                    "dossiers": self.read_dossiers,
                    "reports": self.read_reports,
                }),
            );
        }
        Value::Object(body)
    }
}

pub async fn run(args: MembersArgs, default_bus: impl FnOnce() -> Result<String, ExitCode>) -> ExitCode {
    let bus = match Bus::connect(args.connection, default_bus).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    let path = |id: &str, action: &str| format!("/v1/members/{id}{action}");
    let outcome = match args.command {
        MembersCommand::List { json } => bus.call(Method::GET, "/v1/members", &[]).await.map(|body| {
            if json {
                println!("{body}");
            } else {
                for member in body["members"].as_array().into_iter().flatten() {
                    let secret = if member["has_secret"] == true { "secret" } else { "no secret" };
                    println!(
                        "{}\t{}\t{secret}",
                        member["id"].as_str().unwrap_or(""),
                        member["name"].as_str().unwrap_or("")
                    );
                }
            }
        }),
        MembersCommand::Show { id } => bus.call(Method::GET, &path(&id, ""), &[]).await.map(print_pretty),
        MembersCommand::Add { id, name } => {
            let body = json!({ "id": id, "name": name });
            bus.send(Method::POST, "/v1/members", &[], Some(&body)).await.map(print_secret)
        }
        MembersCommand::Grant { id, right } => {
            bus.send(Method::POST, &path(&id, "/grant"), &[], Some(&right.body())).await.map(print_pretty)
        }
        MembersCommand::Revoke { id, right } => {
            bus.send(Method::POST, &path(&id, "/revoke"), &[], Some(&right.body())).await.map(print_pretty)
        }
        MembersCommand::RotateSecret { id } => {
            bus.call(Method::POST, &path(&id, "/rotate-secret"), &[]).await.map(print_secret)
        }
        MembersCommand::Remove { id } => bus.call(Method::DELETE, &path(&id, ""), &[]).await.map(|_| {
            println!("removed {id}");
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => fail(failed),
    }
}

fn print_pretty(body: Value) {
    println!("{}", serde_json::to_string_pretty(&body).expect("JSON prints"));
}

/// The secret on its own line, for a script to take; what to do with it on stderr.
fn print_secret(body: Value) {
    let member = body["member"]["id"].as_str().unwrap_or("the member");
    eprintln!("client secret of {member} (shown once; give it to its system, keep it nowhere else):");
    println!("{}", body["client_secret"].as_str().unwrap_or(""));
}

/// `lgsp hash-secret`: reads a secret from standard input (never a flag, so it never shows in
/// the process list) and prints its argon2 hash, for `secret_hash` or `password_hash`.
pub fn hash_secret() -> ExitCode {
    let mut secret = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut secret) {
        return fail(Failed(format!("cannot read the secret from standard input: {e}")));
    }
    let secret = secret.trim_end_matches(['\r', '\n']);
    if secret.len() < 12 {
        return fail(Failed("a secret has at least 12 characters".into()));
    }
    println!("{}", lgsp_bus::auth::passwords::hash(secret));
    ExitCode::SUCCESS
}
