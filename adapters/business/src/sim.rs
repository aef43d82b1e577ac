//! A simulator of the business registry: a real HTTP server that follows the contract (as
//! [`crate::mapping::wire`] records it) closely enough that switching to the real registry is a
//! config change.
//!
//! It issues tokens and checks them (known, unexpired), rotates refresh tokens, refuses a
//! malformed enterprise code with 400 and answers from a small sandbox ([`SANDBOX`]). It records
//! every lookup, and can be told to misbehave, from Rust ([`BusinessSim::set_behaviour`]) or over
//! HTTP (`PUT /_sim/behaviour`), for tests and for `lgsp sandbox` users.

use lgsp_bus::ConfigProblem;
use lgsp_bus::config::{Settings, duration};
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use crate::config::BusinessConfig;
use crate::mapping::{self, is_mst, wire};

/// Who may log in, where, and how long what it is issued lasts.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub username: String,
    pub password: String,
    /// Full path of the token call.
    pub token_endpoint: String,
    /// Full path of the renewal call.
    pub refresh_endpoint: String,
    /// Full path of the lookup, without the code segment.
    pub lookup_endpoint: String,
    /// How long an access token lasts, unless [`Behaviour::token_ttl`] says otherwise.
    pub token_ttl: Duration,
    /// How long a refresh token lasts.
    pub refresh_ttl: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            username: "lgsp".into(),
            password: SANDBOX_PASSWORD.into(),
            token_endpoint: wire::DEFAULT_TOKEN_ENDPOINT.into(),
            refresh_endpoint: wire::DEFAULT_REFRESH_ENDPOINT.into(),
            lookup_endpoint: wire::DEFAULT_LOOKUP_ENDPOINT.into(),
            token_ttl: Duration::from_secs(30 * 60),
            refresh_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

/// How the simulator misbehaves; the default is a healthy registry. Also the JSON of
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
    /// Every call answered HTTP 429, as a platform enforcing its quota does.
    pub rate_limited: bool,
    /// Lifetime of the access tokens issued from now on, such as `"2s"`; short ones force renewals.
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<Duration>,
    /// Every lookup answered 401, whatever its token (a registry that lost its signing keys).
    pub refuse_tokens: bool,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)?;
        if self.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(ConfigProblem::new("token_ttl", "must be more than 0"));
        }
        Ok(())
    }
}

/// One lookup that reached the registry (after any misbehaviour), whatever it was answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    /// The enterprise code asked for, as received.
    pub mst: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Whether it carried a known, unexpired token.
    pub token_fresh: bool,
    /// The HTTP status it was answered.
    pub status: u16,
}

/// Everything the simulator recorded; what [`BusinessSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    /// Lookups, in arrival order.
    pub calls: Vec<RecordedCall>,
    /// Successful token calls.
    pub logins: usize,
    /// Successful renewals.
    pub refreshes: usize,
    /// Access token → when it expires, on the simulator's clock.
    tokens: HashMap<String, OffsetDateTime>,
    /// Refresh token → when it expires. Each is used once: a renewal replaces it.
    refresh_tokens: HashMap<String, OffsetDateTime>,
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct BusinessSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    /// How it misbehaves, and its clock: ahead when tests expire tokens without sleeping.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded call, login, renewal and reset; wakes `wait_until`.
    changes: Changes,
}

impl BusinessSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<BusinessSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<BusinessSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            changes: Changes::default(),
        });
        let served = Served::spawn(listener, scheme, router(shared.clone()), "business_sim_stopped")?;
        Ok(BusinessSim { shared, served })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The `url` to configure: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> Url {
        self.served.url()
    }

    pub fn options(&self) -> &SimOptions {
        &self.shared.options
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.controls.set_behaviour(behaviour);
    }

    pub fn behaviour(&self) -> Behaviour {
        self.shared.controls.behaviour()
    }

    /// Moves the simulator's clock on, so that tokens expire without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.controls.advance_clock(by);
    }

    /// Forgets every token and refresh token it issued, as a registry that restarted would.
    pub fn revoke_tokens(&self) {
        self.shared.revoke_tokens();
    }

    /// Forgets every call, login and token, and behaves again.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    pub fn logins(&self) -> usize {
        lock(&self.shared.state).logins
    }

    pub fn refreshes(&self) -> usize {
        lock(&self.shared.state).refreshes
    }

    /// Waits until `predicate` holds, checking it after each change; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let options = &shared.options;
    Router::new()
        .route(&options.token_endpoint, post(token))
        .route(&options.refresh_endpoint, post(refresh))
        .route(&format!("{}/{{mst}}", options.lookup_endpoint.trim_end_matches('/')), get(lookup))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/revoke", post(control_revoke))
        .route("/_sim/reset", post(control_reset))
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

/// A refusal, shaped as the registry's: `{message}`.
fn refusal(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ wire::MESSAGE: message.into() }))).into_response()
}

fn unreadable_body(rejection: JsonRejection) -> Response {
    refusal(StatusCode::BAD_REQUEST, format!("Dữ liệu gửi lên không đúng định dạng JSON: {}", rejection.body_text()))
}

async fn token(State(shared): State<Arc<Shared>>, body: Result<Json<Value>, JsonRejection>) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(rejection),
    };
    let options = &shared.options;
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    if text(wire::USERNAME) != Some(&options.username) || text(wire::PASSWORD) != Some(&options.password) {
        return refusal(StatusCode::UNAUTHORIZED, "Sai tên đăng nhập hoặc mật khẩu");
    }
    let answer = shared.issue(|state| state.logins += 1);
    Json(answer).into_response()
}

async fn refresh(State(shared): State<Arc<Shared>>, body: Result<Json<Value>, JsonRejection>) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(rejection),
    };
    let presented = body.get(wire::REFRESH_TOKEN).and_then(Value::as_str).unwrap_or_default();
    let now = shared.controls.now();
    {
        let mut state = lock(&shared.state);
        // Used once: valid or not, it is gone after this call.
        if state.refresh_tokens.remove(presented).is_none_or(|expires| expires <= now) {
            return refusal(StatusCode::UNAUTHORIZED, "Refresh token không hợp lệ hoặc đã hết hạn");
        }
    }
    let answer = shared.issue(|state| state.refreshes += 1);
    Json(answer).into_response()
}

async fn lookup(State(shared): State<Arc<Shared>>, Path(mst): Path<String>, headers: HeaderMap) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    let refuse_tokens = shared.controls.behaviour().refuse_tokens;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix(wire::BEARER))
        .map(str::trim);
    let now = shared.controls.now();
    let mut state = lock(&shared.state);
    let token_fresh =
        !refuse_tokens && presented.and_then(|token| state.tokens.get(token)).is_some_and(|expires| *expires > now);
    let response = if !token_fresh {
        let mut response = refusal(StatusCode::UNAUTHORIZED, "Token không hợp lệ hoặc đã hết hạn");
        let challenge = header::HeaderValue::from_static("Bearer error=\"invalid_token\"");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        response
    } else if !is_mst(&mst) {
        refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "Mã số doanh nghiệp `{mst}` không hợp lệ: phải gồm 10 chữ số, hoặc 10 chữ số, dấu gạch ngang \
                 và 3 chữ số với chi nhánh"
            ),
        )
    } else {
        match sandbox_record(&mst) {
            Some(record) => Json(record).into_response(),
            None => refusal(StatusCode::NOT_FOUND, format!("Không tìm thấy doanh nghiệp có mã số {mst}")),
        }
    };
    state.calls.push(RecordedCall {
        mst,
        at: OffsetDateTime::now_utc(),
        token_fresh,
        status: response.status().as_u16(),
    });
    drop(state);
    shared.changed();
    response
}

async fn control_calls(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedCall>> {
    Json(lock(&shared.state).calls.clone())
}

async fn control_revoke(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.revoke_tokens();
    StatusCode::NO_CONTENT
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

impl Shared {
    fn changed(&self) {
        self.changes.bump();
    }

    fn revoke_tokens(&self) {
        let mut state = lock(&self.state);
        state.tokens.clear();
        state.refresh_tokens.clear();
    }

    fn reset(&self) {
        *lock(&self.state) = SimState::default();
        self.controls.reset();
        self.changed();
    }

    /// A new token and refresh token, as the token and renewal calls answer them.
    fn issue(&self, count: impl FnOnce(&mut SimState)) -> Value {
        let ttl = self.controls.behaviour().token_ttl.unwrap_or(self.options.token_ttl);
        let now = self.controls.now();
        let expires = now + ttl;
        let (token, refresh_token) = (random_token(), random_token());
        let mut state = lock(&self.state);
        state.tokens.insert(token.clone(), expires);
        state.refresh_tokens.insert(refresh_token.clone(), now + self.options.refresh_ttl);
        count(&mut state);
        drop(state);
        self.changed();
        json!({
            wire::TOKEN: token,
            wire::REFRESH_TOKEN: refresh_token,
            wire::EXPIRY_DATE: mapping::expiry_text(expires),
        })
    }

    /// The answer to give instead of the real one, if the simulator is told to misbehave.
    async fn misbehave(&self) -> Option<Response> {
        let b = self.controls.behaviour();
        // Rate limited, it refuses every call as when down, with its own answer.
        Some(match fault(b.latency_ms, b.down || b.rate_limited, b.error_rate, b.timeout_rate).await? {
            Fault::Down if b.down => refusal(StatusCode::SERVICE_UNAVAILABLE, "Hệ thống đang bảo trì (mô phỏng)"),
            Fault::Down => {
                let mut response =
                    refusal(StatusCode::TOO_MANY_REQUESTS, "Vượt quá số lượt truy vấn cho phép (mô phỏng)");
                response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                response
            }
            Fault::Hang => hang().await,
            Fault::Error => refusal(StatusCode::INTERNAL_SERVER_ERROR, "Lỗi hệ thống (mô phỏng)"),
        })
    }
}

fn random_token() -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(40).collect()
}

/// One enterprise of the sandbox, in plain values; [`sandbox_record`] writes it the registry's way.
#[derive(Debug, Clone, Copy)]
pub struct SandboxEnterprise {
    pub mst: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    pub foreign_name: Option<&'static str>,
    pub short_name: Option<&'static str>,
    pub first_registered: &'static str,
    pub last_changed: Option<&'static str>,
    pub changes: u32,
    /// The legal status history, oldest first: the registry's wording and since when.
    pub statuses: &'static [(&'static str, &'static str)],
    /// Province code, province name and the full line.
    pub office: (&'static str, &'static str, &'static str),
    /// Legal representatives: name and position, then the personal data a real record carries
    /// (birth date, citizen ID) and the adapter must never pass on: made up.
    pub representatives: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// Business line codes (VSIC level 4); the first is the main one.
    pub lines: &'static [&'static str],
}

/// The sandbox registry: an enterprise, its branch and a dissolved enterprise. Any other
/// well-formed code is not found.
pub const SANDBOX: [SandboxEnterprise; 3] = [
    SandboxEnterprise {
        mst: "0101234567",
        kind: "Công ty trách nhiệm hữu hạn hai thành viên trở lên",
        name: "Công ty TNHH Minh Phát",
        foreign_name: Some("MINH PHAT COMPANY LIMITED"),
        short_name: Some("MINH PHAT CO., LTD"),
        first_registered: "2003-01-15",
        last_changed: Some("2024-06-10"),
        changes: 5,
        statuses: &[("Đang hoạt động", "2003-01-15")],
        office: ("01", "Hà Nội", "Số 5 phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội"),
        representatives: &[("Phạm Minh Phát", "Giám đốc", "1975-04-12", "001075000123")],
        lines: &["4649", "4620", "4933"],
    },
    SandboxEnterprise {
        mst: "0101234567-001",
        kind: "Chi nhánh",
        name: "Chi nhánh Công ty TNHH Minh Phát tại Hà Tĩnh",
        foreign_name: None,
        short_name: None,
        first_registered: "2019-09-03",
        last_changed: None,
        changes: 0,
        statuses: &[("Đang hoạt động", "2019-09-03")],
        office: ("42", "Hà Tĩnh", "Số 12 đường Trần Phú, phường Thành Sen, Hà Tĩnh"),
        representatives: &[("Trần Văn Hải", "Người đứng đầu chi nhánh", "1982-11-02", "042082000456")],
        lines: &["4649"],
    },
    SandboxEnterprise {
        mst: "0109999999",
        kind: "Công ty cổ phần",
        name: "Công ty Cổ phần Thương mại Sông Hồng",
        foreign_name: Some("SONG HONG TRADING JOINT STOCK COMPANY"),
        short_name: None,
        first_registered: "2010-03-02",
        last_changed: Some("2023-05-04"),
        changes: 3,
        statuses: &[
            ("Đang hoạt động", "2010-03-02"),
            ("Đang làm thủ tục giải thể", "2022-11-15"),
            ("Đã giải thể", "2023-05-04"),
        ],
        office: ("01", "Hà Nội", "Số 88 phố Bạch Mai, phường Bạch Mai, Hà Nội"),
        representatives: &[
            ("Lê Thị Thu Hà", "Tổng giám đốc", "1983-08-21", "001183000789"),
            ("Nguyễn Quốc Bảo", "Chủ tịch Hội đồng quản trị", "1968-02-14", "001068000321"),
        ],
        lines: &["4719", "4649"],
    },
];

/// The registry's record of a sandbox enterprise, with the field names of [`wire::record`].
pub fn sandbox_record(mst: &str) -> Option<Value> {
    use wire::record::*;
    let e = SANDBOX.iter().find(|e| e.mst == mst)?;
    let (province_code, province_name, detail) = e.office;
    let mut record = json!({
        MA_SO_DOANH_NGHIEP: e.mst,
        SO_GCN_DKKD: e.mst,
        LOAI_HINH_DN: e.kind,
        TEN_TIENG_VIET: e.name,
        NGAY_DANG_KY_LAN_DAU: e.first_registered,
        SO_LAN_DANG_KY_THAY_DOI: e.changes,
        TINH_TRANG_PHAP_LY: e.statuses.iter().map(|(wording, since)| json!({
            wire::status::TEN_TINH_TRANG: wording,
            wire::status::NGAY_HIEU_LUC: since,
        })).collect::<Vec<_>>(),
        DAI_DIEN_PHAP_LUAT: e.representatives.iter().map(|(full_name, position, born, id)| json!({
            wire::representative::CHUC_DANH: position,
            THONG_TIN_CA_NHAN: [{
                wire::representative::HO_TEN: full_name,
                "ngaySinh": born,
                "loaiGiayTo": "Căn cước công dân",
                "soGiayTo": id,
            }],
        })).collect::<Vec<_>>(),
        DIA_CHI_TRU_SO: [{
            wire::address::MA_TINH_THANH: province_code,
            "tenTinhThanh": province_name,
            wire::address::CHI_TIET: detail,
        }],
        NGANH_NGHE_KINH_DOANH: e.lines.iter().enumerate().map(|(index, code)| json!({
            MA_NGANH: code,
            LA_NGANH_CHINH: index == 0,
        })).collect::<Vec<_>>(),
    });
    let optional =
        [(TEN_NUOC_NGOAI, e.foreign_name), (TEN_VIET_TAT, e.short_name), (NGAY_DANG_KY_THAY_DOI, e.last_changed)];
    for (field, value) in optional {
        if let Some(value) = value {
            record[field] = value.into();
        }
    }
    Some(record)
}

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point.
pub struct BusinessSimulator;

/// What sandbox mode fills in when the operator set no password.
pub const SANDBOX_PASSWORD: &str = "sandbox";

#[async_trait]
impl lgsp_bus::Simulator for BusinessSimulator {
    fn sandbox_settings(&self) -> toml::Table {
        let mut settings = toml::Table::new();
        settings.insert("password".into(), SANDBOX_PASSWORD.into());
        settings
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let config = BusinessConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let password = config
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("password", "is required")))?;
        let options = SimOptions {
            username: config.username.clone(),
            password,
            token_endpoint: config.endpoint(&config.token_endpoint).path().to_string(),
            refresh_endpoint: config.endpoint(&config.refresh_endpoint).path().to_string(),
            lookup_endpoint: config.endpoint(&config.lookup_endpoint).path().to_string(),
            ..SimOptions::default()
        };
        let scheme = listener.scheme();
        let sim = BusinessSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use lgsp_bus::schema::Catalogue;

    use super::*;

    #[test]
    fn every_sandbox_enterprise_maps_to_a_valid_reply_without_personal_data() {
        let catalogue = Catalogue::embedded().unwrap();
        for enterprise in SANDBOX {
            let record = sandbox_record(enterprise.mst).unwrap();
            let mapped = mapping::business(enterprise.mst, &record).unwrap();
            assert_eq!(mapped.notes, [], "{}", enterprise.mst);
            let reply = mapping::found(&mapped.business);
            catalogue.check_reply("business.lookup", &reply).unwrap_or_else(|v| panic!("{}: {v:?}", enterprise.mst));
            let text = reply.to_string();
            for (_, _, born, id) in enterprise.representatives {
                assert!(!text.contains(born) && !text.contains(id), "{text}");
            }
        }
        assert_eq!(sandbox_record("0101234568"), None);
    }

    #[test]
    fn the_sandbox_records_match_the_fixtures_the_mapping_is_tested_on() {
        let fixture = |name: &str| -> Value {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{name}.in.json"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        for (mst, name) in
            [("0101234567", "enterprise_active"), ("0101234567-001", "branch"), ("0109999999", "dissolved")]
        {
            let from_sim = mapping::business(mst, &sandbox_record(mst).unwrap()).unwrap().business;
            let from_fixture = mapping::business(mst, &fixture(name)).unwrap().business;
            assert_eq!(from_sim, from_fixture, "{mst}");
        }
    }

    #[test]
    fn the_readme_documents_the_sandbox() {
        let readme = include_str!("../README.md");
        for enterprise in SANDBOX {
            assert!(readme.contains(&format!("`{}`", enterprise.mst)), "{}", enterprise.mst);
            assert!(readme.contains(enterprise.name), "{}", enterprise.name);
        }
        assert!(readme.contains(&format!("password is `{SANDBOX_PASSWORD}`")));
    }

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_value(json!({"down": true, "token_ttl": "2s"})).unwrap();
        assert_eq!(
            behaviour,
            Behaviour { down: true, token_ttl: Some(Duration::from_secs(2)), ..Behaviour::default() }
        );
        assert_eq!(serde_json::to_value(&behaviour).unwrap()["token_ttl"], "2s");
        assert!(serde_json::to_value(Behaviour::default()).unwrap().get("token_ttl").is_none());
        assert!(serde_json::from_value::<Behaviour>(json!({"dwon": true})).is_err());
        assert!(serde_json::from_value::<Behaviour>(json!({"token_ttl": "soon"})).is_err());
        assert!(Behaviour { error_rate: 1.5, ..Behaviour::default() }.check().is_err());
        assert!(Behaviour { token_ttl: Some(Duration::ZERO), ..Behaviour::default() }.check().is_err());
    }
}
