//! `lgsp reports monthly|quarterly|yearly|late|send`: the province's dossier reports from a
//! running bus (`/v1/reports/…`), and sending a month's report upward now. The files (CSV,
//! XLSX) are the API's and the console's: `GET /v1/reports/monthly?month=…&format=xlsx`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use crate::client::{Bus, Connection, fail};

#[derive(Args)]
pub struct ReportsArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: ReportsCommand,
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// A month's counts per agency and for the province (JSON).
    Monthly {
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// Only this agency's dossiers.
        #[arg(long)]
        agency: Option<String>,
    },
    /// A quarter's counts (JSON).
    Quarterly {
        /// YYYY-Qn, such as 2026-Q4.
        #[arg(long)]
        quarter: String,
        #[arg(long)]
        agency: Option<String>,
    },
    /// A year's counts (JSON).
    Yearly {
        /// YYYY.
        #[arg(long)]
        year: String,
        #[arg(long)]
        agency: Option<String>,
    },
    /// A month's late list, a line per dossier: code, agency, state, working days late, whether
    /// the apology was sent, the reason.
    Late {
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        #[arg(long)]
        agency: Option<String>,
    },
    /// Send a month's report upward now as a report.monthly message (an operator); prints its id.
    Send {
        /// YYYY-MM; last month when absent.
        #[arg(long)]
        month: Option<String>,
    },
}

pub async fn run(args: ReportsArgs, default_bus: impl FnOnce() -> Result<String, ExitCode>) -> ExitCode {
    let bus = match Bus::connect(args.connection, default_bus).await {
        Ok(bus) => bus,
        Err(code) => return code,
    };
    let query = |key: &'static str, value: String, agency: Option<String>| {
        let mut query = vec![(key, value)];
        query.extend(agency.map(|agency| ("agency", agency)));
        query
    };
    let pretty = |body: Value| println!("{}", serde_json::to_string_pretty(&body).expect("JSON prints"));
    let outcome = match args.command {
        ReportsCommand::Monthly { month, agency } => {
            bus.call(Method::GET, "/v1/reports/monthly", &query("month", month, agency)).await.map(pretty)
        }
        ReportsCommand::Quarterly { quarter, agency } => {
            bus.call(Method::GET, "/v1/reports/quarterly", &query("quarter", quarter, agency)).await.map(pretty)
        }
        ReportsCommand::Yearly { year, agency } => {
            bus.call(Method::GET, "/v1/reports/yearly", &query("year", year, agency)).await.map(pretty)
        }
        ReportsCommand::Late { month, agency } => {
            bus.call(Method::GET, "/v1/reports/late", &query("month", month, agency)).await.map(print_late)
        }
        ReportsCommand::Send { month } => {
            let query: Vec<(&str, String)> = month.map(|month| ("month", month)).into_iter().collect();
            bus.call(Method::POST, "/v1/reports/monthly/send", &query).await.map(|body| {
                let text = |key: &str| body[key].as_str().unwrap_or_default().to_string();
                println!("report.monthly {} sent: message {}", text("period"), text("id"));
            })
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => fail(failed),
    }
}

fn print_late(body: Value) {
    for dossier in body["late"].as_array().into_iter().flatten() {
        let text = |key: &str| dossier[key].as_str().unwrap_or("-").to_string();
        let apology = if dossier["apology_issued"] == true { "apology sent" } else { "no apology" };
        let days = dossier["working_days_late"].as_u64().unwrap_or(0);
        let line =
            [text("dossier_code"), text("agency_code"), text("state"), format!("{days} working days"), apology.into()];
        println!("{}\t{}", line.join("\t"), text("reason"));
    }
    if body["truncated"] == true {
        println!("(the list was cut at 10,000 dossiers: ask per agency with --agency)");
    }
}
