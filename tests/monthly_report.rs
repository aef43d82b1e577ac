//! The monthly report goes up to the national portal's statistics service: as a `report.monthly`
//! message from the bus, delivered by the `statistics` adapter of config/lgsp.toml (generic
//! HTTP, OAuth2 client credentials) to a simulator that records it. On demand, and by the
//! schedule when the month is over.

mod common;

use std::time::Duration;

use common::Harness;
use lgsp_bus::monitoring::Period;
use lgsp_bus::monitoring::upward::last_month;
use lgsp_bus::testing::amqp_url;
use lgsp_http::sim::AuthCheck;
use reqwest::Method;
use serde_json::{Value, json};

/// A residence registration in phường Thành Sen (routed to 000.00.01.H42), received `received`.
fn submitted(code: &str, received: &str) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": "onestop.sandbox", "subject": code,
        "seq": 1, "occurred_at": received,
        "payload": {
            "dossier_code": code, "procedure_code": "1.001234", "agency_code": "000.00.01.H42", "unit_code": "18100",
            "channel": "online", "received_at": received, "due_at": "2026-10-30T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"}
        }
    })
}

/// The reports the statistics service took, as it received them.
async fn reports(bus: &Harness, count: usize) -> Vec<Value> {
    let arrived = bus.statistics.wait_until(Duration::from_secs(20), |s| s.received().len() >= count).await;
    let calls = bus.statistics.calls();
    assert!(arrived, "the statistics service has {calls:?}");
    calls
        .into_iter()
        .filter(|call| call.taken)
        .map(|call| {
            assert_eq!(call.auth, AuthCheck::Ok, "each call carries a token the service issued");
            call.body
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sends_octobers_report_and_the_portal_receives_it() {
    let bus = Harness::start().await;
    // Received Monday 5 October (due Monday 12th by the catalogue), resolved on the 8th; and one
    // of Tuesday 6th, still open at the month's end, so already late.
    let resolved = "000.00.01.H42-261005-0001";
    for (code, received) in
        [(resolved, "2026-10-05T08:00:00+07:00"), ("000.00.01.H42-261006-0002", "2026-10-06T08:00:00+07:00")]
    {
        let (status, body) = bus.api.post(&submitted(code, received)).await;
        assert_eq!(status, 202, "{body}");
    }
    let mut done = submitted(resolved, "2026-10-05T08:00:00+07:00");
    done["type"] = json!("dossier.status_changed");
    done["id"] = json!(uuid::Uuid::now_v7());
    done["seq"] = json!(2);
    done["payload"]["status"] = json!(10);
    done["payload"]["completed_at"] = json!("2026-10-08T10:00:00+07:00");
    done["payload"].as_object_mut().unwrap().remove("channel");
    let (status, body) = bus.api.post(&done).await;
    assert_eq!(status, 202, "{body}");

    // A viewer may read reports but not send one.
    let viewer = bus.api.as_("viewer").await;
    let (status, problem) = viewer.call(Method::POST, "/v1/reports/monthly/send?month=2026-10").await;
    assert_eq!(status, 403, "{problem}");
    assert!(bus.statistics.calls().is_empty(), "a refusal sends nothing");

    let (status, sent) = bus.operator.call(Method::POST, "/v1/reports/monthly/send?month=2026-10").await;
    assert_eq!((status, sent["period"].as_str()), (202, Some("2026-10")), "{sent}");
    let report = reports(&bus, 1).await.remove(0);
    let fields = [
        "Month",
        "Year",
        "IsMonthStatistic",
        "NewReception",
        "PreExtisting",
        "TotalSolved",
        "SolvedInTime",
        "SolvedInTimePercent",
        "TotalPending",
        "PendingLate",
        "PendingLatePercent",
    ];
    let values: Vec<&Value> = fields.iter().map(|field| &report[field]).collect();
    assert_eq!(
        values,
        [
            &json!(10),
            &json!(2026),
            &json!(true),
            &json!(2),
            &json!(0),
            &json!(1),
            &json!(1),
            &json!(100.0),
            &json!(1),
            &json!(1),
            &json!(100.0)
        ],
        "{report:#}"
    );
    assert_eq!(report["Details"][0]["AgencyCode"], "000.00.01.H42", "{report:#}");

    // The message is on the bus's record like any other: delivered to the statistics service.
    let id = sent["id"].as_str().unwrap();
    let message = bus.operator.wait_state(id, "delivered").await;
    assert_eq!(message["type"], "report.monthly", "{message}");
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_months_report_goes_up_by_itself_once_the_month_is_over() {
    let bus = Harness::start_with(&amqp_url(), vec![("LGSP__BUS__SEND_MONTHLY_REPORT_ON", "1".into())]).await;
    let report = reports(&bus, 1).await.remove(0);
    let Period::Month { year, month } = last_month(time::OffsetDateTime::now_utc()) else {
        unreachable!("last_month is a month")
    };
    assert_eq!(
        (report["Year"].as_i64(), report["Month"].as_u64()),
        (Some(year as i64), Some(month as u64)),
        "{report:#}"
    );
    bus.stop().await;
}
