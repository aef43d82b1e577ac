//! A simulator of the national population database: a real HTTP server speaking SOAP 1.1 as the
//! registry does (as [`crate::mapping::wire`] records it), closely enough that switching to the
//! real endpoint is a config change.
//!
//! It checks a request the way the registry would (a well-formed SOAP 1.1 envelope without a
//! DOCTYPE, the operation, the caller's codes, a 12-digit `SoDinhDanh` from a known province,
//! `MaHoSo`), answers `text/xml`, faults as `soap:Fault` with HTTP 500, and records every lookup
//! it read (who asked, for which dossier, the CCCD masked). It can be told to misbehave, from Rust
//! ([`PopulationSim::set_behaviour`]) or over HTTP (`PUT /_sim/behaviour`).
//!
//! Its citizens are [`SANDBOX`]: two people, and nobody else.

use lgsp_bus::ConfigProblem;
use lgsp_bus::config::Settings;
use lgsp_bus::simulator::{
    Changes, Controls, Fault, Served, SimListener, SimulatorError, behaviour_routes, check_rates, fault, hang, lock,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lgsp_bus::identifiers::Identifier;
use lgsp_bus::privacy::mask_cccd;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use url::Url;

use crate::client::{SOAP_ACTION_HEADER, SOAP_CONTENT_TYPE};
use crate::config::PopulationConfig;
use crate::mapping::xml::XmlError;
use crate::mapping::{self, CongDan, DiaChi, Lookup, NguoiThan, RequestError, wire};

/// A place: province code, commune code ("" when none) and the detail line.
pub type Place = (&'static str, &'static str, &'static str);
/// A person: full name and CCCD.
pub type Person = (&'static str, &'static str);

/// One citizen of the sandbox, as the registry holds them.
#[derive(Debug, Clone, Copy)]
pub struct SandboxCitizen {
    pub cccd: &'static str,
    /// Family name, middle name, given name.
    pub name: (&'static str, &'static str, &'static str),
    /// `yyyyMMdd`.
    pub born: &'static str,
    /// `gioiTinh`, see [`wire::GENDERS`].
    pub gender: &'static str,
    pub ethnicity: &'static str,
    pub religion: &'static str,
    pub nationality: &'static str,
    pub marital_status: &'static str,
    pub blood_type: &'static str,
    pub old_id_number: Option<&'static str>,
    pub household_book_number: &'static str,
    pub place_of_birth: Place,
    pub hometown: Place,
    pub permanent_address: Place,
    pub current_address: Place,
    pub father: Option<Person>,
    pub mother: Option<Person>,
    pub spouse: Option<Person>,
    /// The citizen's relation to the head of household, and the head.
    pub head_of_household: (&'static str, Person),
}

/// The sandbox's citizens. Any other well-formed CCCD (such as `079300000099`) is not found.
pub const SANDBOX: [SandboxCitizen; 2] = [
    SandboxCitizen {
        cccd: "001203000001",
        name: ("Nguyễn", "Văn", "An"),
        born: "20030115",
        gender: "1",
        ethnicity: "Kinh",
        religion: "Không",
        nationality: "Việt Nam",
        marital_status: "Chưa kết hôn",
        blood_type: "O",
        old_id_number: None,
        household_book_number: "HK-01-000123",
        place_of_birth: ("01", "00070", "Phường Hoàn Kiếm, Hà Nội"),
        hometown: ("01", "", "Xã Bát Tràng, Hà Nội"),
        permanent_address: ("01", "00070", "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"),
        current_address: ("01", "00070", "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"),
        father: Some(("Nguyễn Văn Hùng", "001075000123")),
        mother: Some(("Lê Thị Lan", "001178000456")),
        spouse: None,
        head_of_household: ("Con", ("Nguyễn Văn Hùng", "001075000123")),
    },
    SandboxCitizen {
        cccd: "042198000002",
        name: ("Trần", "Thị", "Bình"),
        born: "19980702",
        gender: "2",
        ethnicity: "Kinh",
        religion: "Không",
        nationality: "Việt Nam",
        marital_status: "Đã kết hôn",
        blood_type: "A",
        old_id_number: Some("183456789"),
        household_book_number: "HK-42-004567",
        place_of_birth: ("42", "", "Xã Đức Thọ, Hà Tĩnh"),
        hometown: ("42", "", "Xã Đức Thọ, Hà Tĩnh"),
        permanent_address: ("42", "", "Số 5 đường Phan Đình Phùng, phường Thành Sen, Hà Tĩnh"),
        current_address: ("01", "", "Số 8 phố Trần Hưng Đạo, phường Cửa Nam, Hà Nội"),
        father: Some(("Trần Văn Đức", "042068000321")),
        mother: Some(("Hoàng Thị Mai", "042170000654")),
        spouse: Some(("Phạm Văn Cường", "042095000789")),
        head_of_household: ("Chủ hộ", ("Trần Thị Bình", "042198000002")),
    },
];

impl SandboxCitizen {
    /// The record as the registry answers it.
    pub fn record(&self) -> CongDan {
        let text = |value: &str| Some(value.to_string()).filter(|v| !v.is_empty());
        let place = |(province, commune, detail): Place| {
            Some(DiaChi {
                ma_tinh_thanh: text(province),
                ma_quan_huyen: None,
                ma_phuong_xa: text(commune),
                chi_tiet: text(detail),
            })
        };
        let person =
            |(name, cccd): Person| NguoiThan { ho_va_ten: text(name), so_dinh_danh: text(cccd), quan_he: None };
        let (relationship, head) = self.head_of_household;
        CongDan {
            so_dinh_danh: text(self.cccd),
            ho: text(self.name.0),
            chu_dem: text(self.name.1),
            ten: text(self.name.2),
            nam_sinh: text(&self.born[..4]),
            ngay_sinh: text(self.born),
            gioi_tinh: text(self.gender),
            dan_toc: text(self.ethnicity),
            ton_giao: text(self.religion),
            quoc_tich: text(self.nationality),
            tinh_trang_hon_nhan: text(self.marital_status),
            nhom_mau: text(self.blood_type),
            so_cmnd: self.old_id_number.and_then(text),
            so_so_ho_khau: text(self.household_book_number),
            noi_dang_ky_khai_sinh: place(self.place_of_birth),
            que_quan: place(self.hometown),
            thuong_tru: place(self.permanent_address),
            noi_o_hien_tai: place(self.current_address),
            cha: self.father.map(person),
            me: self.mother.map(person),
            vo_chong: self.spouse.map(person),
            nguoi_dai_dien: None,
            chu_ho: Some(NguoiThan { quan_he: text(relationship), ..person(head) }),
        }
    }
}

/// Where the simulator serves and whom it knows.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Path of the SOAP endpoint.
    pub path: String,
    /// The `SOAPAction` it answers (quotes aside).
    pub soap_action: String,
    /// When set, `Authorization: Bearer <token>` is required (401 otherwise).
    pub token: Option<String>,
    /// The registry's records; [`SANDBOX`] by default.
    pub citizens: Vec<CongDan>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            path: "/".into(),
            soap_action: wire::OPERATION.into(),
            token: None,
            citizens: SANDBOX.iter().map(SandboxCitizen::record).collect(),
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
    /// Share of calls (0 to 1) answered HTTP 500 without a SOAP fault (a proxy's error page).
    pub error_rate: f64,
    /// Share of calls (0 to 1) left unanswered for longer than any client waits.
    pub timeout_rate: f64,
    /// Every call answered HTTP 503.
    pub down: bool,
    /// Every call answered a Server fault.
    pub fault: bool,
    /// Every lookup refused with a Client fault (naming the CCCD, as a registry may).
    pub refuse: bool,
}

impl Behaviour {
    fn check(&self) -> Result<(), ConfigProblem> {
        check_rates(self.error_rate, self.timeout_rate)
    }
}

/// One lookup the simulator read: who asked, for which dossier, about whom (masked), and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    /// `SoDinhDanh`, masked.
    pub cccd: String,
    /// `MaHoSo`.
    pub dossier_code: String,
    /// `MaCanBo`: the member that asked.
    pub ma_can_bo: String,
    pub ma_yeu_cau: String,
    pub ma_dvc: String,
    pub ma_tich_hop: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `found`, `not_found`, `refused` (a Client fault) or `fault` (a Server fault).
    pub answer: &'static str,
}

/// Everything the simulator recorded; what [`PopulationSim::wait_until`] predicates look at.
#[derive(Debug, Default)]
pub struct SimState {
    pub calls: Vec<RecordedCall>,
}

/// A running simulator. Clones share it; it serves until the runtime stops, handle or not.
#[derive(Clone)]
pub struct PopulationSim {
    shared: Arc<Shared>,
    served: Served,
}

struct Shared {
    options: SimOptions,
    state: Mutex<SimState>,
    /// How it misbehaves.
    controls: Arc<Controls<Behaviour>>,
    /// Bumped on every recorded call and reset; wakes `wait_until`.
    changes: Changes,
}

impl PopulationSim {
    /// Serves plain HTTP on `listen` (`127.0.0.1:0` picks a free port) in the background.
    pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<PopulationSim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", options)
    }

    /// Serves on any listener, such as one that speaks TLS; `scheme` is what [`Self::url`] says.
    pub fn serve_on<L>(listener: L, scheme: &'static str, options: SimOptions) -> std::io::Result<PopulationSim>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let shared = Arc::new(Shared {
            options,
            state: Mutex::default(),
            controls: Arc::default(),
            changes: Changes::default(),
        });
        let served = Served::spawn(listener, scheme, router(shared.clone()), "population_sim_stopped")?;
        Ok(PopulationSim { shared, served })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The endpoint to configure as the adapter's `url`: `http://127.0.0.1:PORT/path`.
    pub fn url(&self) -> Url {
        lgsp_bus::peer::endpoint_url(&self.served.url(), &self.shared.options.path)
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

    /// Forgets every call, and behaves again.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.state).calls.clone()
    }

    /// Waits until `predicate` holds, checking it after each recorded call; false on timeout.
    pub async fn wait_until(&self, timeout: Duration, predicate: impl Fn(&SimState) -> bool) -> bool {
        self.shared.changes.wait_until(&self.shared.state, timeout, predicate).await
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(&shared.options.path, post(soap))
        .route("/_sim/calls", get(control_calls))
        .route("/_sim/reset", post(control_reset))
        .with_state(shared.clone())
        .merge(behaviour_routes(shared.controls.clone(), Behaviour::check))
}

async fn soap(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(misbehaviour) = shared.misbehave().await {
        return misbehaviour;
    }
    shared.answer(&headers, &body)
}

async fn control_calls(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedCall>> {
    Json(lock(&shared.state).calls.clone())
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

/// A SOAP answer: `text/xml`, HTTP 200 for an answer and 500 for a fault, as SOAP 1.1 does.
fn xml(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, SOAP_CONTENT_TYPE)], text).into_response()
}

fn client_fault(reason: impl AsRef<str>) -> Response {
    xml(StatusCode::INTERNAL_SERVER_ERROR, mapping::fault_envelope(wire::CLIENT_FAULT, reason.as_ref()))
}

fn server_fault(reason: impl AsRef<str>) -> Response {
    xml(StatusCode::INTERNAL_SERVER_ERROR, mapping::fault_envelope(wire::SERVER_FAULT, reason.as_ref()))
}

impl Shared {
    fn reset(&self) {
        *lock(&self.state) = SimState::default();
        self.controls.reset();
        self.changes.bump();
    }

    /// The answer to give instead of the real one, if the simulator is told to misbehave.
    async fn misbehave(&self) -> Option<Response> {
        let b = self.controls.behaviour();
        Some(match fault(b.latency_ms, b.down, b.error_rate, b.timeout_rate).await? {
            Fault::Down => (StatusCode::SERVICE_UNAVAILABLE, "registry is down (simulated)").into_response(),
            Fault::Hang => hang().await,
            Fault::Error => (StatusCode::INTERNAL_SERVER_ERROR, "internal error (simulated)").into_response(),
        })
    }

    fn answer(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let options = &self.options;
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if let Some(token) = &options.token
            && header(header::AUTHORIZATION.as_str()) != format!("Bearer {token}")
        {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "invalid or missing token")
                .into_response();
        }
        // SOAP 1.1 over HTTP is text/xml; a SOAP 1.2 or JSON client gets what .NET services answer.
        if !header(header::CONTENT_TYPE.as_str()).trim_start().to_ascii_lowercase().starts_with("text/xml") {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected text/xml (SOAP 1.1)").into_response();
        }
        let behaviour = self.controls.behaviour();
        let read =
            std::str::from_utf8(body).map_err(|_| None).and_then(|text| mapping::read_request(text).map_err(Some));
        if behaviour.fault {
            let about = read.as_ref().map(|lookup| format!(" khi tra cứu {}", lookup.so_dinh_danh)).unwrap_or_default();
            if let Ok(lookup) = &read {
                self.record(lookup, "fault");
            }
            return server_fault(format!("Lỗi hệ thống (mô phỏng){about}"));
        }
        let action = header(SOAP_ACTION_HEADER).trim().trim_matches('"');
        if action != options.soap_action {
            return client_fault(format!("SOAPAction `{action}` không được hỗ trợ"));
        }
        let lookup = match read {
            Ok(lookup) => lookup,
            Err(None) => return client_fault("Yêu cầu không phải UTF-8"),
            Err(Some(RequestError::Xml(XmlError::Doctype))) => {
                return client_fault("Yêu cầu chứa DOCTYPE: không được chấp nhận");
            }
            Err(Some(RequestError::Xml(XmlError::Entity(name)))) => {
                return client_fault(format!("Yêu cầu tham chiếu thực thể không khai báo &{name};"));
            }
            Err(Some(e)) => return client_fault(format!("Yêu cầu không hợp lệ: {e}")),
        };
        if let Err(reason) = check_lookup(&lookup) {
            self.record(&lookup, "refused");
            return client_fault(reason);
        }
        if behaviour.refuse {
            self.record(&lookup, "refused");
            return client_fault(format!("Yêu cầu tra cứu công dân {} bị từ chối (mô phỏng)", lookup.so_dinh_danh));
        }
        let found: Vec<CongDan> = options
            .citizens
            .iter()
            .filter(|c| c.so_dinh_danh.as_deref() == Some(lookup.so_dinh_danh.as_str()))
            .cloned()
            .collect();
        self.record(&lookup, if found.is_empty() { "not_found" } else { "found" });
        xml(StatusCode::OK, mapping::answer_envelope(&found))
    }

    fn record(&self, lookup: &Lookup, answer: &'static str) {
        lock(&self.state).calls.push(RecordedCall {
            cccd: mask_cccd(&lookup.so_dinh_danh),
            dossier_code: lookup.ma_ho_so.clone(),
            ma_can_bo: lookup.ma_can_bo.clone(),
            ma_yeu_cau: lookup.ma_yeu_cau.clone(),
            ma_dvc: lookup.ma_dvc.clone(),
            ma_tich_hop: lookup.ma_tich_hop.clone(),
            at: OffsetDateTime::now_utc(),
            answer,
        });
        self.changes.bump();
    }
}

/// Province-of-birth codes that begin a CCCD: 001 to 096. [D] the structure; [A] the range.
const PROVINCE_CODES: std::ops::RangeInclusive<u16> = 1..=96;

/// Checks a lookup as the registry would; the error is its faultstring.
fn check_lookup(lookup: &Lookup) -> Result<(), String> {
    use wire::request::*;
    for (tag, value) in [
        (MA_YEU_CAU, &lookup.ma_yeu_cau),
        (MA_DVC, &lookup.ma_dvc),
        (MA_TICH_HOP, &lookup.ma_tich_hop),
        (MA_CAN_BO, &lookup.ma_can_bo),
        (MA_HO_SO, &lookup.ma_ho_so),
    ] {
        if value.trim().is_empty() {
            return Err(format!("Thiếu {tag}"));
        }
    }
    let cccd = &lookup.so_dinh_danh;
    if !Identifier::Cccd.is_valid(cccd) {
        return Err(format!("{SO_DINH_DANH} phải gồm 12 chữ số"));
    }
    let province: u16 = cccd[..3].parse().expect("three digits");
    if !PROVINCE_CODES.contains(&province) {
        return Err(format!("{SO_DINH_DANH} {cccd}: mã tỉnh nơi đăng ký khai sinh {:03} không tồn tại", province));
    }
    if !lookup.ngay_thang_nam.is_empty() && Date::parse(&lookup.ngay_thang_nam, wire::REQUEST_DATE).is_err() {
        return Err(format!("{NGAY_THANG_NAM} phải có dạng yyyyMMdd"));
    }
    Ok(())
}

/// The `lgsp sandbox` face of the simulator: serves where the adapter's settings point.
pub struct PopulationSimulator;

#[async_trait]
impl lgsp_bus::Simulator for PopulationSimulator {
    /// Nothing: the token is optional, and the simulator asks for one only when it is set.
    fn sandbox_settings(&self) -> toml::Table {
        toml::Table::new()
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> Result<SocketAddr, SimulatorError> {
        let config = PopulationConfig::parse(settings).map_err(SimulatorError::Settings)?;
        let options = SimOptions {
            path: config.url.path().to_string(),
            soap_action: config.soap_action.trim().to_string(),
            token: config.token.as_ref().map(|t| t.expose().to_string()),
            ..SimOptions::default()
        };
        let scheme = listener.scheme();
        let sim = PopulationSim::serve_on(listener, scheme, options).map_err(SimulatorError::Serve)?;
        Ok(sim.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup() -> Lookup {
        Lookup {
            ma_yeu_cau: "r1".into(),
            ma_dvc: "DVC".into(),
            ma_tich_hop: "TH".into(),
            ma_can_bo: "onestop".into(),
            ma_ho_so: "000.00.01.H42-261120-0001".into(),
            so_dinh_danh: "001203000001".into(),
            ho_va_ten: "Nguyễn Văn An".into(),
            ngay_thang_nam: "20030115".into(),
        }
    }

    fn refusal(change: impl FnOnce(&mut Lookup)) -> String {
        let mut lookup = lookup();
        change(&mut lookup);
        check_lookup(&lookup).unwrap_err()
    }

    #[test]
    fn lookups_are_checked_as_the_registry_would() {
        check_lookup(&lookup()).unwrap();
        assert_eq!(refusal(|l| l.ma_dvc.clear()), "Thiếu MaDVC");
        assert_eq!(refusal(|l| l.ma_ho_so = " ".into()), "Thiếu MaHoSo");
        assert_eq!(refusal(|l| l.ma_can_bo.clear()), "Thiếu MaCanBo");
        assert_eq!(refusal(|l| l.so_dinh_danh = "00120300000".into()), "SoDinhDanh phải gồm 12 chữ số");
        assert_eq!(refusal(|l| l.so_dinh_danh = "00120300000a".into()), "SoDinhDanh phải gồm 12 chữ số");
        assert!(refusal(|l| l.so_dinh_danh = "097203000001".into()).contains("mã tỉnh nơi đăng ký khai sinh 097"));
        assert_eq!(refusal(|l| l.ngay_thang_nam = "15/01/2003".into()), "NgayThangNam phải có dạng yyyyMMdd");
    }

    #[test]
    fn the_sandbox_records_read_back_as_written() {
        let records: Vec<CongDan> = SANDBOX.iter().map(SandboxCitizen::record).collect();
        let answer = mapping::read_answer(&mapping::answer_envelope(&records)).unwrap();
        assert_eq!(answer, mapping::Answer::Citizens(records));
    }

    #[test]
    fn behaviour_json_takes_any_subset_of_keys() {
        let behaviour: Behaviour = serde_json::from_str(r#"{"fault": true}"#).unwrap();
        assert_eq!(behaviour, Behaviour { fault: true, ..Behaviour::default() });
        assert!(serde_json::from_str::<Behaviour>(r#"{"faults": true}"#).is_err());
        assert!(Behaviour { timeout_rate: -0.1, ..Behaviour::default() }.check().is_err());
    }
}
