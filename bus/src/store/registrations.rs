//! Adapters registered over the API: kept here so that they survive a restart.

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

use super::{Store, StoreError, Write};

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// A member's, waiting for an admin.
    Pending,
    /// Running on the bus (an admin's is approved as it is registered).
    Approved,
    /// Refused by an admin, with a reason; kept until its owner registers it again.
    Rejected,
}

impl RegistrationState {
    fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Pending => "pending",
            RegistrationState::Approved => "approved",
            RegistrationState::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> RegistrationState {
        match text {
            "approved" => RegistrationState::Approved,
            "rejected" => RegistrationState::Rejected,
            _ => RegistrationState::Pending,
        }
    }
}

/// One registered adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub id: String,
    /// The member or operator who registered it, and may change it.
    pub owner: String,
    pub state: RegistrationState,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The registration as sent, its secrets included.
    pub body: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) enum Change {
    Put(Registration),
    Remove(String),
}

pub(in crate::store) fn write(tx: &Transaction, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::Put(r) => {
            tx.prepare_cached(
                "INSERT INTO registrations (id, owner, state, reason, body, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, state = excluded.state,
                     reason = excluded.reason, body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute(params![
                r.id,
                r.owner,
                r.state.as_str(),
                r.reason,
                r.body.to_string(),
                r.created_at,
                r.updated_at
            ])?;
        }
        Change::Remove(id) => {
            tx.prepare_cached("DELETE FROM registrations WHERE id = ?1")?.execute([id])?;
        }
    }
    Ok(())
}

fn read_all(conn: &Connection) -> rusqlite::Result<Vec<Registration>> {
    let mut select = conn.prepare_cached(
        "SELECT id, owner, state, reason, body, created_at, updated_at FROM registrations ORDER BY id",
    )?;
    let rows = select.query_map([], |row| {
        let state: String = row.get(2)?;
        let body: String = row.get(4)?;
        Ok(Registration {
            id: row.get(0)?,
            owner: row.get(1)?,
            state: RegistrationState::parse(&state),
            reason: row.get(3)?,
            body: serde_json::from_str(&body).unwrap_or_default(),
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        })
    })?;
    rows.collect()
}

impl Store {
    /// Every registration, by id.
    pub async fn registrations(&self) -> Result<Vec<Registration>, StoreError> {
        self.read(read_all).await
    }

    /// Adds or replaces a registration.
    pub async fn put_registration(&self, registration: Registration) -> Result<(), StoreError> {
        self.write(Write::Registration(Change::Put(registration))).await
    }

    pub async fn remove_registration(&self, id: &str) -> Result<(), StoreError> {
        self.write(Write::Registration(Change::Remove(id.to_string()))).await
    }
}
