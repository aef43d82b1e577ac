//! The dossiers a monitoring period counts, read row by row.

use rusqlite::params;

use super::{Store, StoreError};
use crate::monitoring::DossierFacts;

impl Store {
    /// Calls `count` with every dossier received before `end_ms` and not closed before
    /// `start_ms` (of one agency, when given): two index ranges (still open; closed since the
    /// start), read in one snapshot without holding them all in memory.
    pub async fn each_dossier_in(
        &self,
        start_ms: i64,
        end_ms: i64,
        agency: Option<&str>,
        mut count: impl FnMut(DossierFacts),
    ) -> Result<(), StoreError> {
        self.read(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT code, status, procedure_code, agency_code, unit_code, sector_code, channel, return_method,
                        coalesce(has_fee, 0), coalesce(json_extract(payment, '$.status.status') = 'paid', 0),
                        coalesce((SELECT reusable_count > 0 FROM dossier_reuse WHERE dossier_code = code), 0),
                        received_ms, due_at, closed_ms, late
                 FROM dossiers
                 WHERE (closed_ms IS NULL OR closed_ms >= ?1) AND received_ms < ?2
                   AND (?3 IS NULL OR agency_code = ?3)",
            )?;
            let mut rows = select.query(params![start_ms, end_ms, agency])?;
            while let Some(row) = rows.next()? {
                count(DossierFacts {
                    code: row.get(0)?,
                    status: row.get(1)?,
                    procedure_code: row.get(2)?,
                    agency_code: row.get(3)?,
                    unit_code: row.get(4)?,
                    sector_code: row.get(5)?,
                    channel: row.get(6)?,
                    return_method: row.get(7)?,
                    has_fee: row.get(8)?,
                    paid_online: row.get(9)?,
                    reused: row.get(10)?,
                    received_ms: row.get(11)?,
                    due_at: row.get(12)?,
                    closed_ms: row.get(13)?,
                    late: row.get(14)?,
                });
            }
            Ok(())
        })
        .await
    }

    /// Whether a message of this type about this subject was accepted.
    pub async fn has_message(&self, message_type: &str, subject: &str) -> Result<bool, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE type = ?1 AND subject = ?2)")?
                .query_row(params![message_type, subject], |row| row.get(0))
        })
        .await
    }
}
