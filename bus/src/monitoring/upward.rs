//! The monthly report, sent upward: a `report.monthly` message from the bus itself, which the
//! adapters routed for it deliver (the national portal's statistics service by default). Sent
//! on demand (`POST /v1/reports/monthly/send`, `lgsp reports send`) and, when `[bus]
//! send_monthly_report_on` names a day, once a month for the month before.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Grouping, Period, period_report, tally};
use crate::calendar::VIETNAM;
use crate::events;
use crate::ingress::{BUS_SOURCE, Ingress, IngressError, Sender, Submitted};

/// The message type.
pub const REPORT_MONTHLY: &str = "report.monthly";
/// How often the schedule looks whether last month's report is due.
const LOOK_EVERY: Duration = Duration::from_secs(3600);
/// When it looks again after a try that failed.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Counts `period` (a month) and sends it; a later one for the same month replaces it (its
/// `seq` is the time it was made, in microseconds).
pub async fn send_monthly(ingress: &Ingress, period: Period) -> Result<(Submitted, Uuid), IngressError> {
    let counted = tally(&ingress.store, &ingress.procedures, period, None, Grouping::Agency).await?;
    let report = period_report(period, Grouping::Agency, &counted);
    let now = OffsetDateTime::now_utc();
    let envelope = json!({
        "id": Uuid::now_v7(),
        "type": REPORT_MONTHLY,
        "source": BUS_SOURCE,
        "subject": report.period,
        "seq": (now.unix_timestamp_nanos() / 1000) as u64,
        "occurred_at": now.to_offset(VIETNAM).format(&Rfc3339).unwrap_or_default(),
        "payload": report,
    });
    let prepared = ingress.prepare(envelope, Sender::Bus).await?;
    ingress.accept(vec![prepared]).await.remove(0)
}

/// The month before the one `now` is in (Vietnam's time).
pub fn last_month(now: OffsetDateTime) -> Period {
    let today = now.to_offset(VIETNAM).date();
    match u8::from(today.month()) {
        1 => Period::Month { year: today.year() - 1, month: 12 },
        month => Period::Month { year: today.year(), month: month - 1 },
    }
}

/// From `day` of each month on, sends last month's report if none was sent yet: after a
/// restart, or a minute after a try that failed (the broker away, say).
pub fn schedule(ingress: Arc<Ingress>, day: u8, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ingress.broker.wait_connected(true) => {}
            }
            let failed = match send_if_due(&ingress, day).await {
                Ok(()) => false,
                Err((month, e)) => {
                    events::monthly_report_not_sent(&month, &e);
                    true
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(if failed { RETRY_AFTER } else { LOOK_EVERY }) => {}
            }
        }
    });
}

async fn send_if_due(ingress: &Ingress, day: u8) -> Result<(), (String, IngressError)> {
    let now = OffsetDateTime::now_utc();
    if now.to_offset(VIETNAM).day() < day {
        return Ok(());
    }
    let month = last_month(now);
    let label = month.label();
    let sent = ingress.store.has_message(REPORT_MONTHLY, &label).await.map_err(|e| (label.clone(), e.into()))?;
    if !sent {
        let (_, id) = send_monthly(ingress, month).await.map_err(|e| (label.clone(), e))?;
        events::monthly_report_sent(&label, id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn last_month_is_reckoned_in_vietnam() {
        assert_eq!(last_month(datetime!(2026-12-01 08:00 +07:00)), Period::Month { year: 2026, month: 11 });
        // 20:00 UTC on 31 December is already 1 January in Hà Nội.
        assert_eq!(last_month(datetime!(2026-12-31 20:00 UTC)), Period::Month { year: 2026, month: 12 });
        assert_eq!(last_month(datetime!(2027-01-15 08:00 +07:00)), Period::Month { year: 2026, month: 12 });
    }
}
