//! The province's dossier reports, computed from dossier messages sent through a real bus:
//! October 2026 with dossiers received before, in and after it, resolved early, in time and
//! late (against the catalogue's working days, not the one-stop system's date), withdrawn, and
//! still open; as JSON, CSV and XLSX; and the late list with its explanations and apologies.

mod common;

use common::TestBus;
use common::october::{A, A1, A3, B, RESIDENCE, october};
use serde_json::{Value, json};

fn row<'a>(report: &'a Value, agency: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency_code"] == agency)
        .unwrap_or_else(|| panic!("{report:#}"))
}

/// The counts a row holds, in the platforms' order.
fn counts(row: &Value) -> Vec<u64> {
    ["new_reception", "pre_existing", "total_solved", "solved_in_time", "solved_late", "total_pending", "pending_late"]
        .iter()
        .map(|key| row[key].as_u64().unwrap_or_else(|| panic!("{key} in {row:#}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_dossiers_is_counted_per_agency_and_for_the_province() {
    let bus = october().await;
    let (status, report) = bus.get("/v1/reports/monthly?month=2026-10").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["period"].as_str(), report["from"].as_str(), report["to"].as_str()),
        (Some("2026-10"), Some("2026-10-01"), Some("2026-10-31"))
    );
    let province = &report["province"];
    // Received 6 in October, 1 carried over = 3 resolved + 1 withdrawn + 3 open.
    assert_eq!(counts(province), [6, 1, 3, 2, 1, 3, 2], "{province:#}");
    assert_eq!((province["month"].as_u64(), province["year"].as_u64()), (Some(10), Some(2026)));
    assert_eq!((province["solved_early"].as_u64(), province["closed_without_result"].as_u64()), (Some(1), Some(1)));
    assert_eq!(province["received"], json!({"counter": 2, "online": 3, "post": 1}));
    assert_eq!(province["postal_percent"], 16.67);
    // A-1 (paid online), A-4 and B-2 (no fee) were handled fully online; A-3's fee was not paid online.
    assert_eq!(
        (province["fully_online_percent"].as_f64(), province["online_payment_percent"].as_f64()),
        (Some(50.0), Some(50.0))
    );
    let a = row(&report, A);
    assert_eq!(counts(a), [5, 0, 3, 2, 1, 2, 1], "{a:#}");
    assert_eq!(
        (a["solved_in_time_percent"].as_f64(), a["solved_late_percent"].as_f64(), a["pending_late_percent"].as_f64()),
        (Some(66.67), Some(33.33), Some(50.0))
    );
    assert_eq!(counts(row(&report, B)), [1, 1, 0, 0, 0, 1, 1]);

    // One agency only; per procedure; the quarter adds November's dossier.
    let (_, only_b) = bus.get(&format!("/v1/reports/monthly?month=2026-10&agency={B}")).await;
    assert_eq!(
        (only_b["rows"].as_array().map(Vec::len), counts(&only_b["province"])),
        (Some(1), vec![1, 1, 0, 0, 0, 1, 1])
    );
    let (_, per_procedure) = bus.get("/v1/reports/monthly?month=2026-10&by=procedure").await;
    let residence =
        per_procedure["rows"].as_array().unwrap().iter().find(|r| r["procedure_code"] == RESIDENCE).unwrap();
    assert_eq!(counts(residence), [5, 0, 3, 2, 1, 2, 1], "{per_procedure:#}");
    let (status, quarter) = bus.get("/v1/reports/quarterly?quarter=2026-Q4").await;
    assert_eq!(status, 200, "{quarter}");
    assert_eq!(
        (quarter["province"]["quarter"].as_u64(), quarter["province"]["new_reception"].as_u64()),
        (Some(4), Some(7))
    );
    let (_, year) = bus.get("/v1/reports/yearly?year=2026").await;
    assert_eq!(
        (year["province"]["new_reception"].as_u64(), year["province"]["pre_existing"].as_u64()),
        (Some(9), Some(0))
    );

    // The late list: A-3 resolved two working days late, explained and apologised for; A-5 and
    // B-1 still open past their dates, unexplained.
    let (status, list) = bus.get("/v1/reports/late?month=2026-10").await;
    assert_eq!(status, 200, "{list}");
    let late: Vec<(&str, &str, u64, bool)> = list["late"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["dossier_code"].as_str().unwrap(),
                d["state"].as_str().unwrap(),
                d["working_days_late"].as_u64().unwrap(),
                d["apology_issued"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        late,
        [
            ("000.00.01.H42-261001-0005", "pending_late", 16, false),
            ("000.00.01.H42-261001-0003", "resolved_late", 2, true),
            ("000.00.02.H42-261001-0001", "pending_late", 25, false)
        ]
    );
    let explained = &list["late"][1];
    assert_eq!(
        (explained["reason"].as_str(), explained["due_at"].as_str()),
        (Some("Chờ xác minh nơi cư trú"), Some("2026-10-12T17:00:00+07:00"))
    );
    assert_eq!(explained["procedure_name"], "Đăng ký thường trú");
    // The dossier's own view reckons its due time as the reports do: A-3 is late though its
    // one-stop system wrote 30 October, A-1 is not.
    for (code, late) in [(A3, true), (A1, false)] {
        let (status, dossier) = bus.get(&format!("/v1/dossiers/{code}")).await;
        assert_eq!((status, dossier["late"].as_bool()), (200, Some(late)), "{dossier}");
    }
    assert!(!list.to_string().contains("042198000002"), "a published list names no applicant: {list}");

    // The same as files.
    let csv = download(&bus, "/v1/reports/monthly?month=2026-10&format=csv", "text/csv").await;
    let text = String::from_utf8(csv).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("AgencyCode,Month,Year,NewReception,PreExisting,TotalSolved,SolvedInTime,SolvedInTimePercent,SolvedLate,SolvedLatePercent,TotalPending,PendingLate,PendingLatePercent"), "{header}");
    assert_eq!(
        lines.next(),
        Some(&*format!("{A},10,2026,5,0,3,2,66.67,1,33.33,2,1,50.00,1,33.33,0,2,2,1,20.00,40.00,50.00,0.00"))
    );
    assert!(text.lines().last().unwrap().starts_with("Toàn tỉnh,10,2026,6,1,3,2,66.67,1,33.33,3,2,66.67"), "{text}");
    let late_csv =
        String::from_utf8(download(&bus, "/v1/reports/late?month=2026-10&format=csv", "text/csv").await).unwrap();
    assert!(
        late_csv.contains("000.00.01.H42-261001-0003,000.00.01.H42,1.001234,Đăng ký thường trú,18073,"),
        "{late_csv}"
    );
    let xlsx = download(
        &bus,
        "/v1/reports/late?month=2026-10&format=xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    assert_eq!(&xlsx[..4], b"PK\x03\x04", "an XLSX file is a zip archive");

    // Refusals name what is wrong.
    let (status, problem) = bus.get("/v1/reports/monthly?month=2026-13").await;
    assert_eq!((status, problem["violations"][0]["pointer"].as_str()), (400, Some("/month")), "{problem}");
    let (status, problem) = bus.get("/v1/reports/quarterly?quarter=2026-Q5").await;
    assert_eq!((status, problem["violations"][0]["pointer"].as_str()), (400, Some("/quarter")), "{problem}");
    let (status, problem) = bus.get("/v1/reports/monthly?month=2026-10&format=pdf").await;
    assert_eq!(status, 400, "{problem}");
    let commune = bus.api.as_("onestop.thachha").await;
    let (status, problem) = commune.get("/v1/reports/monthly?month=2026-10").await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("read reports")), "{problem}");
    bus.stop().await;
}

async fn download(bus: &TestBus, path: &str, media_type: &str) -> Vec<u8> {
    let response = bus.api.http.get(format!("{}{path}", bus.api.base)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with(media_type), "{headers:?}");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename="), "{headers:?}");
    response.bytes().await.unwrap().to_vec()
}
