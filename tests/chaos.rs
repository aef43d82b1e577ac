//! `lgsp chaos --short`, the form CI runs: 5,000 status changes over 500 dossiers through the
//! real bus while RabbitMQ is killed and restarted once, the bus is killed with `kill -9` once
//! and the portal fails 30 % of calls and leaves 10 % unanswered. Nothing accepted may be lost,
//! nothing delivered twice, and every dossier must end at its newest `seq`; the message log's
//! chain must be intact and sealed, and record every accepted message.

use std::collections::HashMap;
use std::process::Command;

#[test]
fn the_short_chaos_run_keeps_every_promise() {
    let output = Command::new(env!("CARGO_BIN_EXE_lgsp")).args(["chaos", "--short"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lgsp chaos --short failed ({}):\n{stdout}\n{stderr}", output.status);

    let figures: HashMap<&str, u64> = stdout
        .lines()
        .filter_map(|line| line.split_once(": "))
        .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect();
    let figure = |name: &str| *figures.get(name).unwrap_or_else(|| panic!("no `{name}:` line in\n{stdout}"));
    assert_eq!(figure("sent"), 5_000, "{stdout}");
    assert_eq!(figure("accepted"), 5_000, "{stdout}");
    assert_eq!((figure("lost"), figure("duplicated"), figure("wrong_final")), (0, 0, 0), "{stdout}");
    assert!(figure("delivered") > 0, "{stdout}");
    assert_eq!(figure("unlogged"), 0, "{stdout}");
    let chain = stdout.lines().find(|line| line.starts_with("message_log: ")).expect("a message_log line");
    assert!(chain.starts_with("message_log: intact") && chain.ends_with(" 0 unsealed"), "{stdout}");
    assert!(stdout.contains("fault: RabbitMQ killed") && stdout.contains("fault: bus killed"), "{stdout}");
}
