//! A simulator of the national portal: a real HTTP server that follows the portal's contract (as
//! [`crate::mapping::wire`] records it) closely enough that switching to the real portal is a
//! config change.
//!
//! It checks what the portal checks (session, unit, service, every required field and format),
//! answers HTTP 200 with `{error_code, message}` as the portal does, and records everything it
//! accepted. It can be told to misbehave, from Rust ([`PortalSim::set_behaviour`]) or over HTTP
//! (`PUT /_sim/behaviour`), for tests and for `lgsp sandbox` users.

use lgsp_bus::ConfigProblem;
use lgsp_bus::config::Settings;
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use url::Url;

use crate::client::MESSAGE_ID_HEADER;
use crate::config::DvcConfig;
use crate::mapping::{parse_portal_time, wire};
use lgsp_bus::identifiers::Identifier;

/// Who may log in, where, and for how long a session lasts.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub username: String,
    pub password: String,
    /// A session is refused (`02`) this long after it was issued.
    pub session_ttl: Duration,
    /// Full path of the login call.
    pub auth_endpoint: String,
    /// Full path of the service calls.
    pub integration_endpoint: String,
    /// The units (`madonvi`) this account may send for; any well-formed code when empty.
    pub units: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            username: "lgsp".into(),
            password: "sandbox".into(),
            session_ttl: Duration::from_secs(30 * 60),
            auth_endpoint: "/auth".into(),
            integration_endpoint: "/integration".into(),
            units: Vec::new(),
        }
    }
}

/// How the simulator misbehaves; the default is a healthy portal. Also the JSON of
/// `PUT /_sim/behaviour`, where every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls (0 to 1) answered HTTP 500.
    pub error_rate: f64,
    /// Share of calls (0 to 1) left unanswered for longer than any client waits.
    pub timeout_rate: f64,
    /// Every call answered HTTP 503.
    pub down: bool,
    /// Every dossier write refused with `03`.
    pub refuse_all: bool,
    /// Writes about these dossier codes refused with `03`.
    pub refuse_dossiers: Vec<String>,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)
    }
}

/// One accepted write call.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    pub service: String,
    /// `isUpdating` of a `DongBoHoSoMC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_updating: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// From the `X-Lgsp-Message-Id` header, in item order.
    pub message_ids: Vec<String>,
    pub items: Vec<Value>,
}

/// What the portal holds about one dossier.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DossierRecord {
    /// The latest `DongBoHoSoMC` item.
    pub latest: Value,
    /// Every `TrangThaiHoSo` received, in arrival order.
    pub statuses: Vec<String>,
    /// Every `CapNhatTienDoHoSoMC` item, in arrival order.
    pub progress: Vec<Value>,
}

/// Everything the simulator recorded; what [`PortalSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    /// Accepted write calls, in arrival order (lookups are not recorded).
    pub calls: Vec<RecordedCall>,
    pub dossiers: BTreeMap<String, DossierRecord>,
    /// Successful logins.
    pub logins: usize,
    /// Session token → when it expires (on the simulator's clock).
    sessions: HashMap<String, Instant>,
}

impl SimState {
    /// Every message id of every accepted call, with repeats when one was delivered twice.
    pub fn delivered_message_ids(&self) -> Vec<String> {
        self.calls.iter().flat_map(|call| call.message_ids.iter().cloned()).collect()
    }

    pub fn statuses(&self, dossier: &str) -> Vec<String> {
        self.dossiers.get(dossier).map(|d| d.statuses.clone()).unwrap_or_default()
    }
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct PortalSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    /// How it misbehaves, and its clock: ahead when tests expire sessions without sleeping.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded call and reset; wakes `wait_until`.
    changes: Changes,
}

impl PortalSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<PortalSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<PortalSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            changes: Changes::default(),
        });
        let served = Served::spawn(listener, scheme, router(shared.clone()), "dvc_sim_stopped")?;
        Ok(PortalSim { shared, served })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The adapter_url to configure: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> Url {
        self.served.url()
    }

    pub fn options(&self) -> &SimOptions {
        &self.shared.options
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.controls.set_behaviour(behaviour);
    }

    /// Moves the simulator's clock on, so that sessions expire without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.controls.advance_clock(by);
    }

    /// Forgets every call, dossier and session, and behaves again.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    pub fn dossier(&self, code: &str) -> Option<DossierRecord> {
        lock(&self.shared.state).dossiers.get(code).cloned()
    }

    pub fn statuses(&self, code: &str) -> Vec<String> {
        lock(&self.shared.state).statuses(code)
    }

    pub fn delivered_message_ids(&self) -> Vec<String> {
        lock(&self.shared.state).delivered_message_ids()
    }

    pub fn logins(&self) -> usize {
        lock(&self.shared.state).logins
    }

    /// Waits until `predicate` holds, checking it after each recorded call; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(&shared.options.auth_endpoint, post(auth))
        .route(&shared.options.integration_endpoint, post(integration))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/received", get(control_received))
        .route("/_sim/dossiers/{code}", get(control_dossier))
        .route("/_sim/reset", post(control_reset))
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

async fn auth(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    Json(shared.login(&body)).into_response()
}

async fn integration(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let message_ids = headers
        .get(MESSAGE_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|ids| ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    Json(shared.integrate(&body, message_ids)).into_response()
}

async fn control_calls(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedCall>> {
    Json(lock(&shared.state).calls.clone())
}

/// `GET /_sim/received`: the message ids of every item the portal took, in order.
async fn control_received(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "received": lock(&shared.state).delivered_message_ids() }))
}

async fn control_dossier(State(shared): State<Arc<Shared>>, Path(code): Path<String>) -> Response {
    match lock(&shared.state).dossiers.get(&code) {
        Some(record) => Json(record.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no dossier {code}")).into_response(),
    }
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

fn answer(code: &str, message: impl Into<String>) -> Value {
    json!({ wire::ERROR_CODE: code, wire::MESSAGE: message.into() })
}

fn text<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

impl Shared {
    fn now(&self) -> Instant {
        Instant::now() + self.controls.clock_offset()
    }

    fn reset(&self) {
        *lock(&self.state) = SimState::default();
        self.controls.reset();
        self.changes.bump();
    }

    /// The answer to give instead of the real one, if the simulator is told to misbehave.
    async fn misbehave(&self) -> Option<Response> {
        let b = self.controls.behaviour();
        Some(match fault(b.latency_ms, b.down, b.error_rate, b.timeout_rate).await? {
            Fault::Down => (StatusCode::SERVICE_UNAVAILABLE, "portal is down (simulated)").into_response(),
            Fault::Hang => hang().await,
            Fault::Error => (StatusCode::INTERNAL_SERVER_ERROR, "internal error (simulated)").into_response(),
        })
    }

    fn login(&self, body: &Value) -> Value {
        let options = &self.options;
        if text(body, wire::USERNAME) != Some(&options.username)
            || text(body, wire::PASSWORD) != Some(&options.password)
        {
            return answer(wire::WRONG_CREDENTIALS, "Sai tên đăng nhập hoặc mật khẩu");
        }
        let token: String = std::iter::repeat_with(fastrand::alphanumeric).take(32).collect();
        let expires = self.now() + options.session_ttl;
        let mut state = lock(&self.state);
        state.sessions.insert(token.clone(), expires);
        state.logins += 1;
        let mut answer = answer(wire::OK, "Đăng nhập thành công");
        answer[wire::SESSION] = token.into();
        answer
    }

    fn integrate(&self, body: &Value, message_ids: Vec<String>) -> Value {
        let now = self.now();
        let behaviour = self.controls.behaviour();
        let mut state = lock(&self.state);
        let session_valid =
            text(body, wire::SESSION).and_then(|token| state.sessions.get(token)).is_some_and(|expires| *expires > now);
        if !session_valid {
            return answer(wire::SESSION_INVALID, "Phiên làm việc không hợp lệ hoặc đã hết hạn");
        }
        let unit = text(body, wire::MADONVI).unwrap_or_default();
        if !Identifier::AgencyCode.is_valid(unit)
            || !(self.options.units.is_empty() || self.options.units.iter().any(|u| u == unit))
        {
            return answer(wire::WRONG_UNIT, format!("Mã đơn vị `{unit}` không thuộc tài khoản này"));
        }
        let service = text(body, wire::SERVICE).unwrap_or_default();
        let result = match service {
            wire::SYNC_DOSSIERS => sync_dossiers(&mut state, body, &behaviour),
            wire::UPDATE_PROGRESS => update_progress(&mut state, body, &behaviour),
            wire::LOOKUP_DOSSIER => return lookup_dossier(&state, body),
            wire::LOOKUP_PROCEDURE => return lookup_procedure(body),
            other => Err(answer(wire::INVALID_DATA, format!("Dịch vụ `{other}` không tồn tại"))),
        };
        match result {
            Ok((is_updating, items)) => {
                let count = items.len();
                state.calls.push(RecordedCall {
                    service: service.to_string(),
                    is_updating,
                    at: OffsetDateTime::now_utc(),
                    message_ids,
                    items,
                });
                drop(state);
                self.changes.bump();
                answer(wire::OK, format!("Đã tiếp nhận {count} mục"))
            }
            Err(refusal) => refusal,
        }
    }
}

/// What a write service accepted: `isUpdating` (for `DongBoHoSoMC`) and the items.
type Accepted = Result<(Option<String>, Vec<Value>), Value>;

fn sync_dossiers(state: &mut SimState, body: &Value, behaviour: &Behaviour) -> Accepted {
    let is_updating = match text(body, wire::IS_UPDATING) {
        Some(flag @ (wire::TRUE | wire::FALSE)) => flag.to_string(),
        _ => return Err(answer(wire::INVALID_DATA, "isUpdating phải là \"True\" hoặc \"False\"")),
    };
    let items = data_items(body)?;
    for item in &items {
        check_sync_item(item).map_err(|message| answer(wire::INVALID_DATA, message))?;
        refuse_if_told(item, behaviour)?;
    }
    // Checked whole before any is kept: a refused call changes nothing.
    for item in &items {
        let code = text(item, wire::sync::MA_HO_SO).unwrap_or_default().to_string();
        let record = state.dossiers.entry(code).or_default();
        record.latest = item.clone();
        record.statuses.push(text(item, wire::sync::TRANG_THAI).unwrap_or_default().to_string());
    }
    Ok((Some(is_updating), items))
}

fn update_progress(state: &mut SimState, body: &Value, behaviour: &Behaviour) -> Accepted {
    let items = data_items(body)?;
    for item in &items {
        check_progress_item(item).map_err(|message| answer(wire::INVALID_DATA, message))?;
        refuse_if_told(item, behaviour)?;
    }
    for item in &items {
        let code = text(item, wire::progress::MA_HO_SO).unwrap_or_default();
        if !state.dossiers.contains_key(code) {
            return Err(answer(wire::NOT_FOUND, format!("Không tìm thấy hồ sơ {code}")));
        }
    }
    for item in &items {
        let code = text(item, wire::progress::MA_HO_SO).unwrap_or_default();
        state.dossiers.get_mut(code).expect("checked above").progress.push(item.clone());
    }
    Ok((None, items))
}

fn data_items(body: &Value) -> Result<Vec<Value>, Value> {
    match body.get(wire::DATA) {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items.clone()),
        _ => Err(answer(wire::INVALID_DATA, "Thiếu danh sách data")),
    }
}

fn refuse_if_told(item: &Value, behaviour: &Behaviour) -> Result<(), Value> {
    let code = text(item, wire::sync::MA_HO_SO).unwrap_or_default();
    if behaviour.refuse_all || behaviour.refuse_dossiers.iter().any(|refused| refused == code) {
        return Err(answer(wire::INVALID_DATA, format!("Hồ sơ {code}: bị từ chối (mô phỏng)")));
    }
    Ok(())
}

/// Checks a `DongBoHoSoMC` item; the error names the dossier and the field, as the portal's does.
fn check_sync_item(item: &Value) -> Result<(), String> {
    use wire::sync::*;
    let fields = item.as_object().ok_or("Mục dữ liệu không phải là đối tượng JSON")?;
    let who = format!("Hồ sơ {}", text(item, MA_HO_SO).unwrap_or("(không mã)"));
    check_common(fields, &who, &REQUIRED, &DATES)?;
    check_code(fields, &who, TRANG_THAI, is_status)?;
    check_code(fields, &who, LOAI_DOI_TUONG, one_of(&[wire::APPLICANT_CITIZEN, wire::APPLICANT_BUSINESS]))?;
    check_code(fields, &who, HINH_THUC, one_of(&[wire::RETURN_AT_COUNTER, wire::RETURN_BY_POST]))?;
    check_code(
        fields,
        &who,
        KENH_THUC_HIEN,
        one_of(&[wire::CHANNEL_COUNTER, wire::CHANNEL_ONLINE, wire::CHANNEL_POST]),
    )?;
    if !text(item, DON_VI_XU_LY).is_some_and(|code| Identifier::AgencyCode.is_valid(code)) {
        return Err(format!("{who}: trường {DON_VI_XU_LY} không phải mã đơn vị"));
    }
    for list in LISTS {
        if !fields.get(list).is_some_and(Value::is_array) {
            return Err(format!("{who}: thiếu trường {list}"));
        }
    }
    if text(item, TRANG_THAI) == Some(wire::STATUS_RETURNED.to_string().as_str()) && !fields.contains_key(NGAY_TRA) {
        return Err(format!("{who}: thiếu trường {NGAY_TRA}"));
    }
    Ok(())
}

fn check_progress_item(item: &Value) -> Result<(), String> {
    use wire::progress::*;
    let fields = item.as_object().ok_or("Mục dữ liệu không phải là đối tượng JSON")?;
    let who = format!("Hồ sơ {}", text(item, MA_HO_SO).unwrap_or("(không mã)"));
    check_common(fields, &who, &REQUIRED, &DATES)?;
    check_code(fields, &who, TRANG_THAI, is_status)
}

fn check_common(fields: &Map<String, Value>, who: &str, required: &[&str], dates: &[&str]) -> Result<(), String> {
    for field in required {
        if fields.get(*field).and_then(Value::as_str).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("{who}: thiếu trường {field}"));
        }
    }
    for field in dates {
        if let Some(value) = fields.get(*field)
            && value.as_str().is_none_or(|v| parse_portal_time(v).is_none())
        {
            return Err(format!("{who}: trường {field} không đúng định dạng yyyyMMddHHmmss"));
        }
    }
    Ok(())
}

/// A coded field must hold an `allowed` text when present (`check_common` says which must be).
fn check_code(
    fields: &Map<String, Value>,
    who: &str,
    field: &str,
    allowed: impl Fn(&str) -> bool,
) -> Result<(), String> {
    match fields.get(field) {
        Some(value) if !value.as_str().is_some_and(&allowed) => {
            Err(format!("{who}: trường {field} không hợp lệ ({value})"))
        }
        _ => Ok(()),
    }
}

/// `TrangThaiHoSo` as the portal writes it: "1" to "10", no leading zero.
fn is_status(text: &str) -> bool {
    wire::STATUSES.into_iter().any(|status| status.to_string() == text)
}

fn one_of(allowed: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |text| allowed.contains(&text)
}

fn lookup_dossier(state: &SimState, body: &Value) -> Value {
    let code = text(body, wire::LOOKUP_DOSSIER_KEY).unwrap_or_default();
    match state.dossiers.get(code) {
        Some(record) => {
            let mut found = answer(wire::OK, "Thành công");
            found[wire::DATA] = record.latest.clone();
            found
        }
        None => answer(wire::NOT_FOUND, format!("Không tìm thấy hồ sơ {code}")),
    }
}

/// A few sample procedures, so that `LayThuTuc` answers something; not the national catalogue.
const CATALOGUE: [(&str, &str, &str, &str); 3] = [
    ("1.001234", "Đăng ký thường trú", "G22", "Đăng ký, quản lý cư trú"),
    ("2.000123", "Đăng ký thay đổi nội dung đăng ký hoạt động chi nhánh", "G05", "Thành lập và hoạt động doanh nghiệp"),
    ("1.000656", "Đăng ký khai sinh", "G14", "Hộ tịch"),
];

fn lookup_procedure(body: &Value) -> Value {
    let code = text(body, wire::LOOKUP_PROCEDURE_KEY).unwrap_or_default();
    match CATALOGUE.iter().find(|(c, ..)| *c == code) {
        Some((code, name, sector_code, sector_name)) => {
            let mut found = answer(wire::OK, "Thành công");
            found[wire::DATA] = json!({
                wire::sync::MA_TTHC: code,
                wire::sync::TEN_TTHC: name,
                wire::sync::MA_LINH_VUC: sector_code,
                wire::sync::TEN_LINH_VUC: sector_name,
            });
            found
        }
        None => answer(wire::NOT_FOUND, format!("Không tìm thấy thủ tục {code}")),
    }
}

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point.
pub struct PortalSimulator;

/// What sandbox mode fills in when the operator set no password.
pub const SANDBOX_PASSWORD: &str = "sandbox";

#[async_trait]
impl lgsp_bus::Simulator for PortalSimulator {
    fn sandbox_settings(&self) -> toml::Table {
        let mut settings = toml::Table::new();
        settings.insert("password".into(), SANDBOX_PASSWORD.into());
        settings
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let config = DvcConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let password = config
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("password", "is required")))?;
        let options = SimOptions {
            username: config.username.clone(),
            password,
            auth_endpoint: config.endpoint(&config.auth_endpoint).path().to_string(),
            integration_endpoint: config.endpoint(&config.integration_endpoint).path().to_string(),
            units: vec![config.madonvi.clone()],
            ..SimOptions::default()
        };
        let scheme = listener.scheme();
        let sim = PortalSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_item() -> Value {
        json!({
            "MaHoSo": "000.00.01.H42-261120-0001", "MaTTHC": "1.001234", "ChuHoSo": "Nguyễn Văn An",
            "LoaiDoiTuong": "1", "MaDoiTuong": "001203000001", "NgayTiepNhan": "20261120083000",
            "NgayHenTra": "20261127170000", "TrangThaiHoSo": "1", "DonViXuLy": "000.00.01.H42",
            "TaiLieuNop": [], "DanhSachLePhi": [], "DanhSachHoSoBoSung": [], "DanhSachGiayToKetQua": []
        })
    }

    fn refusal(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut item = valid_item();
        change(item.as_object_mut().unwrap());
        check_sync_item(&item).unwrap_err()
    }

    #[test]
    fn sync_items_are_checked_field_by_field() {
        check_sync_item(&valid_item()).unwrap();
        let missing = refusal(|i| drop(i.remove("MaTTHC")));
        assert_eq!(missing, "Hồ sơ 000.00.01.H42-261120-0001: thiếu trường MaTTHC");
        assert!(refusal(|i| drop(i.insert("NgayHenTra".into(), "20261131170000".into()))).contains("NgayHenTra"));
        assert!(refusal(|i| drop(i.insert("TrangThaiHoSo".into(), "11".into()))).contains("TrangThaiHoSo"));
        assert!(refusal(|i| drop(i.insert("TrangThaiHoSo".into(), 4.into()))).contains("TrangThaiHoSo"));
        assert!(refusal(|i| drop(i.insert("LoaiDoiTuong".into(), "3".into()))).contains("LoaiDoiTuong"));
        assert!(refusal(|i| drop(i.insert("HinhThuc".into(), "2".into()))).contains("HinhThuc"));
        assert!(refusal(|i| drop(i.remove("TaiLieuNop"))).contains("TaiLieuNop"));
        assert!(refusal(|i| drop(i.insert("TrangThaiHoSo".into(), "10".into()))).contains("NgayTra"));
        // The refusal never echoes the citizen ID.
        assert!(!refusal(|i| drop(i.insert("LoaiDoiTuong".into(), "x".into()))).contains("001203000001"));
    }

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_value(json!({"down": true})).unwrap();
        assert_eq!(behaviour, Behaviour { down: true, ..Behaviour::default() });
        assert!(serde_json::from_value::<Behaviour>(json!({"dwon": true})).is_err());
        assert!(Behaviour { error_rate: 1.5, ..Behaviour::default() }.check().is_err());
    }
}
