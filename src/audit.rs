//! `lgsp audit verify | export | search | archive | public-key`: the message log, read from its
//! file (the bus may be running: the log is SQLite in WAL mode, read without blocking it).

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use lgsp_bus::audit::{self, Finding, LogFile, Report, Search, file};
use lgsp_bus::auth::keys::PublicKey;
use lgsp_bus::config::Config;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every entry, link and seal; name the first entry altered, removed, inserted or
    /// moved. Exits 1 if anything is wrong.
    Verify {
        #[command(flatten)]
        range: Range,
        /// Check an export or archive file instead of the log (with --public-key, offline).
        #[arg(long, conflicts_with_all = ["from", "to", "archives"])]
        file: Option<PathBuf>,
        /// Check every archive file, in order, and that the log continues the last one.
        #[arg(long)]
        archives: bool,
        /// The public key (64 hex digits, or a file holding them) instead of the configured
        /// key's; repeat it for archives sealed before a key change.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
    /// Write entries and their seals as JSON lines that `verify --file` checks with the public
    /// key alone. The export runs on to the next seal after --to.
    Export {
        #[command(flatten)]
        range: Range,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Find entries by message, dossier, actor (member, operator, adapter) or subject.
    Search {
        #[arg(long)]
        message: Option<String>,
        #[arg(long)]
        dossier: Option<String>,
        /// The member, operator or adapter that acted.
        #[arg(long, alias = "member")]
        actor: Option<String>,
        /// Whose data (a CCCD, an MST) or a message's subject.
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        range: Range,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Move entries older than audit.keep to an archive file now (the bus does it hourly).
    Archive,
    /// Print the public key the log is sealed with (give it to whoever verifies exports).
    PublicKey,
}

#[derive(Args)]
struct Range {
    /// From this time (RFC 3339, or a date: its start, Vietnam time).
    #[arg(long)]
    from: Option<String>,
    /// Up to this time (RFC 3339, or a date: its end, Vietnam time).
    #[arg(long)]
    to: Option<String>,
}

impl Range {
    fn millis(&self) -> Result<(Option<i64>, Option<i64>), String> {
        Ok((parse_time(self.from.as_deref(), false)?, parse_time(self.to.as_deref(), true)?))
    }
}

/// RFC 3339, or YYYY-MM-DD in Vietnam's time (UTC+7): its first or last millisecond.
fn parse_time(text: Option<&str>, end_of_day: bool) -> Result<Option<i64>, String> {
    let Some(text) = text else { return Ok(None) };
    let millis = |at: OffsetDateTime| (at.unix_timestamp_nanos() / 1_000_000) as i64;
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Some(millis(at)));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, format).map_err(|_| format!("`{text}` is neither RFC 3339 nor YYYY-MM-DD"))?;
    let vietnam = UtcOffset::from_hms(7, 0, 0).expect("a valid offset");
    let start = millis(date.midnight().assume_offset(vietnam));
    Ok(Some(if end_of_day { start + 86_400_000 - 1 } else { start }))
}

pub fn run(config: &Config, args: AuditArgs) -> ExitCode {
    match command(config, args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lgsp audit: {e}");
            ExitCode::from(2)
        }
    }
}

fn command(config: &Config, command: AuditCommand) -> Result<ExitCode, String> {
    let path = config.audit.path(&config.store).map_err(|e| e.to_string())?;
    let open = || file::open(&path).map_err(|e| e.to_string());
    match command {
        AuditCommand::Verify { file: Some(export), public_keys, .. } => {
            let keys = keys(config, &path, &public_keys)?;
            let reader =
                BufReader::new(std::fs::File::open(&export).map_err(|e| format!("{}: {e}", export.display()))?);
            let (checked, _, _) =
                file::verify_export(reader, &export.display().to_string(), &keys).map_err(|e| e.to_string())?;
            Ok(print_verdict(&export.display().to_string(), checked))
        }
        AuditCommand::Verify { archives: true, public_keys, .. } => {
            let keys = keys(config, &path, &public_keys)?;
            verify_archives(&open()?, &config.audit.archive_folder(&path), &keys)
        }
        AuditCommand::Verify { range, public_keys, .. } => {
            let keys = keys(config, &path, &public_keys)?;
            let log = open()?;
            let seqs = seqs(&log, &range)?;
            if seqs == Some(None) {
                println!("no entries in that time range");
                return Ok(ExitCode::SUCCESS);
            }
            let checked = log.verify(&keys, seqs.flatten()).map_err(|e| e.to_string())?;
            Ok(print_verdict(&path.display().to_string(), checked))
        }
        AuditCommand::Export { range, out } => {
            let log = open()?;
            let (first, last) = match seqs(&log, &range)? {
                Some(None) => return Err("no entries in that time range".into()),
                Some(Some(found)) => found,
                None => (1, u64::MAX),
            };
            let shown = out.as_ref().map_or("standard output".to_string(), |p| p.display().to_string());
            let mut sink: Box<dyn Write> = match &out {
                Some(file) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let last = log.export(first, last, &mut sink, &shown).map_err(|e| e.to_string())?;
            sink.flush().map_err(|e| format!("{shown}: {e}"))?;
            eprintln!("exported entries {first} to {last} to {shown}");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Search { message, dossier, actor, subject, kind, range, limit } => {
            let (from, to) = range.millis()?;
            let search = Search { message, dossier, actor, subject, kind, from, to };
            for entry in open()?.search(&search, limit).map_err(|e| e.to_string())? {
                println!("{}", serde_json::to_string(&entry).expect("an entry serializes"));
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Archive => {
            let before = lgsp_bus::now_ms() - config.audit.keep.as_millis() as i64;
            let folder = config.audit.archive_folder(&path);
            match open()?.archive(before, &folder).map_err(|e| e.to_string())? {
                Some((written, first, last)) => println!("archived entries {first} to {last} to {}", written.display()),
                None => println!("nothing older than audit.keep ({:?}) is sealed yet", config.audit.keep),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey => {
            let key = audit::signing_key(&config.audit, &path, false).map_err(|e| e.to_string())?.public();
            println!("{} {}", hex::encode(key.as_bytes()), key.id());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The seq range of a time range: `None` when no range was asked, `Some(None)` when it is empty.
fn seqs(log: &LogFile, range: &Range) -> Result<Option<Option<(u64, u64)>>, String> {
    let (from, to) = range.millis()?;
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    log.seq_range(from, to).map(Some).map_err(|e| e.to_string())
}

/// The keys seals are checked with: those given, or the configured key's public half.
fn keys(config: &Config, log: &Path, given: &[String]) -> Result<Vec<PublicKey>, String> {
    if given.is_empty() {
        let key = audit::signing_key(&config.audit, log, false).map_err(|e| e.to_string())?;
        return Ok(vec![key.public()]);
    }
    given
        .iter()
        .map(|text| {
            let text = if Path::new(text).is_file() {
                std::fs::read_to_string(text).map_err(|e| format!("{text}: {e}"))?
            } else {
                text.clone()
            };
            let hex_digits = text.split_whitespace().next().unwrap_or_default();
            hex::decode(hex_digits)
                .ok()
                .and_then(|bytes| PublicKey::from_bytes(&bytes))
                .ok_or_else(|| format!("`{hex_digits}` is not a public key (64 hex digits)"))
        })
        .collect()
}

fn print_verdict(what: &str, checked: Result<Report, Finding>) -> ExitCode {
    match checked {
        Ok(report) => {
            println!(
                "ok: {what}: {} entries to {}, {} seals, sealed to entry {}{}",
                report.entries,
                report.last,
                report.seals,
                report.sealed,
                match report.unsealed() {
                    0 => String::new(),
                    n => format!(
                        "; the last {n} not sealed yet (sealed within audit.sign_every, and when the bus starts again)"
                    ),
                }
            );
            ExitCode::SUCCESS
        }
        Err(finding) => {
            println!("FAILED: {what}: {finding}");
            ExitCode::FAILURE
        }
    }
}

/// Every archive file in name order, each starting where the one before ended, then the log
/// from where the last one ended.
fn verify_archives(log: &LogFile, folder: &Path, keys: &[PublicKey]) -> Result<ExitCode, String> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", folder.display())),
    };
    files.sort();
    let mut previous: Option<audit::Anchor> = None;
    for path in &files {
        let shown = path.display().to_string();
        let reader = BufReader::new(std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?);
        let (checked, anchor, head) = file::verify_export(reader, &shown, keys).map_err(|e| e.to_string())?;
        if previous.is_some_and(|p| p != anchor) {
            println!("FAILED: {shown}: does not start where the archive before it ended (entry {})", anchor.seq);
            return Ok(ExitCode::FAILURE);
        }
        if print_verdict(&shown, checked) != ExitCode::SUCCESS {
            return Ok(ExitCode::FAILURE);
        }
        previous = Some(head);
    }
    if let Some(head) = previous
        && log.anchor().map_err(|e| e.to_string())? != head
    {
        println!("FAILED: the log does not continue the last archive (which ends at entry {})", head.seq);
        return Ok(ExitCode::FAILURE);
    }
    let checked = log.verify(keys, None).map_err(|e| e.to_string())?;
    Ok(print_verdict("the log", checked))
}
