//! The status changes `lgsp bench` and `lgsp chaos` send: what a one-stop system sends as a
//! dossier moves.

use serde_json::{Value, json};
use uuid::Uuid;

/// A `dossier.status_changed` of `dossier` from `source`, its `seq`-th, to `status`, with
/// `summary` (which the portal shows as the dossier's `TrichYeuHoSo`).
pub fn status_changed(id: Uuid, source: &str, dossier: &str, seq: u64, status: u8, summary: &str) -> Value {
    json!({
        "id": id,
        "type": "dossier.status_changed",
        "source": source,
        "subject": dossier,
        "seq": seq,
        "occurred_at": "2026-11-20T09:15:00+07:00",
        "payload": {
            "dossier_code": dossier,
            "procedure_code": "1.001234",
            "procedure_name": "Đăng ký thường trú",
            "agency_code": "000.00.01.H42",
            "status": status,
            "received_at": "2026-11-20T08:30:00+07:00",
            "due_at": "2026-11-27T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn An"},
            "channel": "online",
            "summary": summary,
        }
    })
}
