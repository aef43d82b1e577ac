use std::path::Path;
use std::sync::OnceLock;

use lgsp_bus::schema::Catalogue;

use super::decide::gender;
use super::xml::{Element, XmlError};
use super::*;
use lgsp_bus::{Failure, ServiceError};
use serde_json::{Value, json};

const AN: &str = "001203000001";
const BINH: &str = "042198000002";
const DOSSIER: &str = "000.00.01.H42-261120-0001";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn request(cccd: &str, name: &str, born: &str, fields: &[&str]) -> VerifyRequest {
    let body = json!({
        "cccd": cccd, "full_name": name, "date_of_birth": born, "dossier_code": DOSSIER, "fields": fields,
    });
    VerifyRequest::from_body(&body).unwrap()
}

fn an(fields: &[&str]) -> VerifyRequest {
    request(AN, "Nguyễn Văn An", "2003-01-15", fields)
}

/// Every reply the mapping produces in these tests goes through the bus's own check.
fn checked(reply: &Value) -> &Value {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    let catalogue = CATALOGUE.get_or_init(|| Catalogue::embedded().unwrap());
    if let Err(violations) = catalogue.check_reply("citizen.verify", reply) {
        panic!("{reply} breaks the reply schema: {violations:?}");
    }
    reply
}

/// The reply to `request` from an HTTP 200 answer with this fixture.
fn reply(name: &str, request: &VerifyRequest) -> Decision {
    let citizens = judge(200, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let decision = decide(request, &citizens).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    checked(&decision.reply);
    decision
}

/// What the caller is told about a fixture answered with `status`.
fn answered(name: &str, status: u16) -> ServiceError {
    let text = fixture(name);
    let error = judge(status, &text).map(|_| ()).expect_err(name);
    error.service_error(DOSSIER, Some(&text))
}

fn refused(error: ServiceError) -> Failure {
    match error {
        ServiceError::Refused(failure) => failure,
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn unavailable(error: ServiceError) -> Failure {
    match error {
        ServiceError::Unavailable(failure) => failure,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// Every text the answer holds, to look for in a reply that must hold none of it.
fn leaf_texts(element: &Element, out: &mut Vec<String>) {
    let text = element.text.trim();
    if !text.is_empty() {
        out.push(text.to_string());
    }
    for child in &element.children {
        leaf_texts(child, out);
    }
}

#[test]
fn a_match_returns_every_field_asked_for() {
    let all: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    let decision = reply("match.xml", &an(&all));
    assert_eq!(decision.outcome, Outcome::Match);
    assert_eq!(
        decision.reply,
        json!({
            "result": "match",
            "citizen": {
                "gender": "male",
                "ethnicity": "Kinh",
                "religion": "Không",
                "nationality": "Việt Nam",
                "marital_status": "Chưa kết hôn",
                "blood_type": "O",
                "place_of_birth": {"province_code": "01", "commune_code": "00070", "detail": "UBND phường Hoàn Kiếm, Hà Nội"},
                "hometown": {
                    "province_code": "36", "district_code": "356", "commune_code": "13525",
                    "detail": "Xã Hải Anh, huyện Hải Hậu, Nam Định"
                },
                "permanent_address": {
                    "province_code": "01", "commune_code": "00070",
                    "detail": "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"
                },
                "current_address": {
                    "province_code": "01", "commune_code": "00070",
                    "detail": "Phòng 3 & 4, số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"
                },
                "old_id_number": "012345678",
                "household_book_number": "HK-01-000123",
                "father": {"full_name": "Nguyễn Văn Hùng", "cccd": "001075000123"},
                "mother": {"full_name": "Lê Thị Lan", "cccd": "001178000456"},
                "head_of_household": {"full_name": "Nguyễn Văn Hùng", "cccd": "001075000123", "relationship": "Con"}
            }
        })
    );
    // The spouse element is nil: not held, so not returned, and not a problem either.
    assert!(decision.unusable.is_empty(), "{:?}", decision.unusable);
}

#[test]
fn a_match_returns_each_field_alone_and_nothing_more() {
    let all: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    let everything = reply("match.xml", &an(&all)).reply["citizen"].clone();
    for field in Field::ALL {
        let decision = reply("match.xml", &an(&[field.name()]));
        let citizen = decision.reply["citizen"].as_object().unwrap();
        match everything.get(field.name()) {
            Some(value) => {
                assert_eq!(citizen.len(), 1, "{field:?}: {citizen:?}");
                assert_eq!(&citizen[field.name()], value, "{field:?}");
            }
            None => assert!(citizen.is_empty(), "{field:?}: {citizen:?}"),
        }
    }
    // Asking for nothing returns the verdict alone.
    assert_eq!(reply("match.xml", &an(&[])).reply, json!({"result": "match"}));
}

#[test]
fn names_compare_normalised_and_case_insensitively() {
    let decomposed = "Nguye\u{302}\u{303}n Va\u{306}n An"; // NFD: base letters and combining marks
    for name in ["Nguyễn Văn An", "  nguyễn   VĂN an ", decomposed, "NGUYỄN\tVĂN\u{a0}AN"] {
        let decision = reply("match.xml", &request(AN, name, "2003-01-15", &[]));
        assert_eq!(decision.outcome, Outcome::Match, "{name:?}");
    }
    for name in ["Nguyễn Văn Ân", "Nguyen Van An", "Nguyễn An", "Nguyễn Văn An Bình"] {
        let decision = reply("match.xml", &request(AN, name, "2003-01-15", &[]));
        assert_eq!(decision.reply, json!({"result": "mismatch", "mismatched": ["full_name"]}), "{name:?}");
    }
}

#[test]
fn a_mismatch_names_the_fields_and_nothing_of_the_record() {
    let root = xml::parse(&fixture("mismatch.xml")).unwrap();
    let mut registry_values = Vec::new();
    leaf_texts(&root, &mut registry_values);
    assert!(registry_values.len() > 20);
    let all: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();

    let cases = [
        ("Trần Thị Bính", "1998-07-02", json!(["full_name"])),
        ("Trần Thị Bình", "1998-02-07", json!(["date_of_birth"])),
        ("Trần Bình", "1999-07-02", json!(["full_name", "date_of_birth"])),
    ];
    for (name, born, mismatched) in cases {
        let decision = reply("mismatch.xml", &request(BINH, name, born, &all));
        assert_eq!(decision.outcome, Outcome::Mismatch);
        assert_eq!(decision.reply, json!({"result": "mismatch", "mismatched": mismatched}), "{name} {born}");
        let serialized = serde_json::to_string(&decision.reply).unwrap();
        for value in &registry_values {
            assert!(!serialized.contains(value.as_str()), "{value:?} leaked into {serialized}");
        }
    }
    // The same record matches when asked rightly; its date is written dd/MM/yyyy.
    let decision = reply("mismatch.xml", &request(BINH, "Trần Thị Bình", "1998-07-02", &["gender", "spouse"]));
    assert_eq!(
        decision.reply,
        json!({"result": "match", "citizen": {
            "gender": "female", "spouse": {"full_name": "Phạm Văn Cường", "cccd": "042095000789"}
        }})
    );
}

#[test]
fn an_empty_collection_is_not_found() {
    let decision = reply("not_found.xml", &request("079300000099", "Lê Văn Cư", "2000-03-04", &["gender"]));
    assert_eq!(decision.outcome, Outcome::NotFound);
    assert_eq!(decision.reply, json!({"result": "not_found"}));
}

#[test]
fn a_client_fault_is_refused_with_the_masked_faultstring() {
    let failure = refused(answered("fault_client.xml", 500));
    assert_eq!(
        failure.reason,
        format!(
            "population registry refused the lookup for {DOSSIER}: soap:Client: \
             Yêu cầu tra cứu công dân 0012******01 không hợp lệ: thiếu MaHoSo"
        )
    );
    let answer = failure.peer_answer.unwrap();
    assert!(answer.contains("0012******01") && !answer.contains(AN), "{answer}");

    // SOAP 1.2 says Sender for the same thing.
    let failure = refused(answered("fault_sender_soap12.xml", 400));
    assert!(failure.reason.ends_with("env:Sender: MaDVC không được cấp quyền tra cứu"), "{failure:?}");
}

#[test]
fn a_server_fault_is_unavailable() {
    let failure = unavailable(answered("fault_server.xml", 500));
    assert_eq!(
        failure.reason,
        format!(
            "population registry failed the lookup for {DOSSIER}: soap:Server: \
             Lỗi kết nối cơ sở dữ liệu khi tra cứu 0012******01"
        )
    );
    // Whatever the status: a fault is read before the status is judged.
    assert!(matches!(answered("fault_server.xml", 200), ServiceError::Unavailable(_)));
    let unknown = Fault { code: "soap:MustUnderstand".into(), string: String::new() };
    assert!(!AnswerError::Fault(unknown).is_refusal());
    let subcode = Fault { code: "Client.Authentication".into(), string: String::new() };
    assert!(AnswerError::Fault(subcode).is_refusal());
}

#[test]
fn a_malformed_answer_is_unavailable() {
    let failure = unavailable(answered("malformed.xml", 200));
    assert!(
        failure.reason.starts_with(&format!(
            "population registry's answer to the lookup for {DOSSIER} was not used: it is not well-formed XML"
        )),
        "{failure:?}"
    );
    assert!(!failure.reason.contains(AN));
    for (body, expected) in [
        (r#"{"congDan": []}"#, "not well-formed"),
        ("<html><body>Gateway</body></html>", "its root is <html>, not a SOAP Envelope"),
        (r#"<s:Envelope xmlns:s="urn:not-soap"><s:Body/></s:Envelope>"#, "not a SOAP Envelope"),
        (r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#, "has no Body"),
        (
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#,
            "no congdanCollection",
        ),
    ] {
        let error = judge(200, body).unwrap_err();
        let failure = unavailable(error.service_error(DOSSIER, None));
        assert!(failure.reason.contains(expected), "{body}: {failure:?}");
    }
}

#[test]
fn a_doctype_is_refused_and_no_entity_is_expanded() {
    let text = fixture("doctype.xml");
    assert_eq!(judge(200, &text), Err(AnswerError::Unreadable(ReadError::Xml(XmlError::Doctype))));
    let failure = unavailable(answered("doctype.xml", 200));
    assert!(
        failure
            .reason
            .ends_with("it carries a DOCTYPE, which is refused unread (entity declarations are never processed)")
    );
    assert!(!failure.reason.contains("INTERNAL-ENTITY-EXPANDED") && !failure.reason.contains("root:"));
    assert_eq!(failure.peer_answer, None, "an unusable answer is not passed on");

    // Without its DOCTYPE, the entities are undeclared: refused, still unexpanded.
    let body = text.split_once("]>").unwrap().1;
    assert_eq!(judge(200, body), Err(AnswerError::Unreadable(ReadError::Xml(XmlError::Entity("name".into())))));
}

#[test]
fn statuses_without_a_fault() {
    let cases = [
        (503, "Service Unavailable", false, "HTTP 503 Service Unavailable"),
        (502, "<html>Bad gateway</html>", false, "HTTP 502 Bad Gateway"),
        (404, "Not Found", true, "HTTP 404 Not Found"),
        (415, "", true, "HTTP 415 Unsupported Media Type"),
        (401, "", false, "HTTP 401 Unauthorized"),
        (403, "", false, "HTTP 403 Forbidden"),
        (429, "", false, "HTTP 429 Too Many Requests"),
    ];
    for (status, body, is_refusal, expected) in cases {
        let error = judge(status, body).unwrap_err();
        assert_eq!(error, AnswerError::Status(status));
        assert_eq!(error.is_refusal(), is_refusal, "{status}");
        let (ServiceError::Refused(failure) | ServiceError::Unavailable(failure)) =
            error.service_error(DOSSIER, Some(&format!("HTTP {status}: {body}")));
        assert_eq!(failure.reason, format!("population registry answered {expected} to the lookup for {DOSSIER}"));
    }
    // A good answer with a bad status is still a bad status.
    assert_eq!(judge(500, &fixture("not_found.xml")), Err(AnswerError::Status(500)));
}

#[test]
fn answers_that_cannot_be_relied_on_are_unavailable() {
    let citizens = judge(200, &fixture("match.xml")).unwrap();
    // A record about another citizen ID.
    let error = decide(&request(BINH, "Nguyễn Văn An", "2003-01-15", &[]), &citizens).unwrap_err();
    let failure = unavailable(error.service_error(DOSSIER, None));
    assert!(failure.reason.ends_with("it is about another citizen ID"), "{failure:?}");
    // Two records for one ID.
    let twice = [citizens[0].clone(), citizens[0].clone()];
    assert!(matches!(decide(&an(&[]), &twice), Err(AnswerError::Inconsistent(_))));
    // A record without a date of birth, or with one we cannot read.
    let mut undated = citizens[0].clone();
    undated.ngay_sinh = None;
    undated.nam_sinh = None;
    assert!(matches!(decide(&an(&[]), &[undated.clone()]), Err(AnswerError::Inconsistent(_))));
    undated.ngay_sinh = Some("15.01.2003".into());
    assert!(matches!(decide(&an(&[]), &[undated]), Err(AnswerError::Inconsistent(_))));
}

#[test]
fn a_record_with_only_the_year_of_birth_matches_on_the_year() {
    let mut citizen = judge(200, &fixture("match.xml")).unwrap().remove(0);
    citizen.ngay_sinh = None;
    assert_eq!(decide(&an(&[]), &[citizen.clone()]).unwrap().outcome, Outcome::Match);
    let other_year = request(AN, "Nguyễn Văn An", "2004-01-15", &[]);
    let decision = decide(&other_year, &[citizen]).unwrap();
    assert_eq!(checked(&decision.reply), &json!({"result": "mismatch", "mismatched": ["date_of_birth"]}));
}

#[test]
fn values_the_reply_cannot_carry_are_left_out_and_reported() {
    let mut citizen = judge(200, &fixture("match.xml")).unwrap().remove(0);
    citizen.gioi_tinh = Some("9".into());
    citizen.so_cmnd = Some("12345".into());
    citizen.nhom_mau = Some("không rõ nhóm máu".into());
    citizen.thuong_tru.as_mut().unwrap().chi_tiet = None;
    citizen.cha.as_mut().unwrap().so_dinh_danh = Some("not-an-id".into());
    let asked = ["gender", "old_id_number", "blood_type", "permanent_address", "father", "ethnicity"];
    let decision = decide(&an(&asked), &[citizen]).unwrap();
    assert_eq!(
        checked(&decision.reply),
        &json!({"result": "match", "citizen": {"ethnicity": "Kinh", "father": {"full_name": "Nguyễn Văn Hùng"}}})
    );
    assert_eq!(decision.unusable, [Field::Gender, Field::OldIdNumber, Field::BloodType, Field::PermanentAddress]);
}

#[test]
fn gender_codes_and_words() {
    for (code, expected) in [("1", "male"), ("2", "female"), ("3", "other"), ("nam", "male"), ("NỮ", "female")] {
        assert_eq!(gender(code), Ok(Value::from(expected)), "{code}");
    }
    assert_eq!(gender("0"), Err(()));
}

#[test]
fn the_request_escapes_hostile_input_and_round_trips() {
    let hostile = "Nguyễn <b>Văn</b> & \"An\" 'x' ]]> </HoVaTen><SoDinhDanh>999999999999</SoDinhDanh>";
    let asked = request(AN, hostile, "2003-01-15", &[]);
    let lookup = Lookup::new(&asked, "DVC-H42", "TH&<01>", "onestop\"member'", "req-1");
    let text = request_envelope(&lookup).unwrap();
    assert!(!text.contains("<b>") && !text.contains("</HoVaTen><SoDinhDanh>999999999999"), "{text}");
    assert_eq!(text.matches("<SoDinhDanh>").count(), 1);
    assert_eq!(read_request(&text).unwrap(), lookup);
    assert_eq!(lookup.ngay_thang_nam, "20030115");
    assert_eq!(lookup.ma_can_bo, "onestop\"member'");
    // Our own reader reads the request too (it is a well-formed SOAP 1.1 envelope).
    let root = xml::parse(&text).unwrap();
    assert_eq!(root.namespace.as_deref(), Some(wire::SOAP11_NS));
    let operation = root.child(wire::BODY).unwrap().child(wire::OPERATION).unwrap();
    assert_eq!(operation.namespace.as_deref(), Some(wire::NAMESPACE));
    let tags: Vec<&str> = operation.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(tags, ["MaYeuCau", "MaDVC", "MaTichHop", "MaCanBo", "MaHoSo", "SoDinhDanh", "HoVaTen", "NgayThangNam"]);
}

#[test]
fn control_characters_are_refused_before_sending() {
    let lookup = Lookup::new(&request(AN, "Nguyễn\u{1}An", "2003-01-15", &[]), "D", "T", "m", "r");
    assert_eq!(request_envelope(&lookup), Err("HoVaTen holds a control character that XML cannot carry".into()));
}

#[test]
fn answers_and_faults_the_simulator_writes_read_back() {
    let citizens = judge(200, &fixture("match.xml")).unwrap();
    let mut hostile = citizens[0].clone();
    hostile.ten = Some("<An> & \"Bé\"".into());
    for answer in [vec![], citizens.clone(), vec![hostile]] {
        assert_eq!(read_answer(&answer_envelope(&answer)), Ok(Answer::Citizens(answer)));
    }
    let fault = fault_envelope(wire::CLIENT_FAULT, "SoDinhDanh <phải> gồm 12 chữ số\u{0}");
    assert_eq!(
        read_answer(&fault),
        Ok(Answer::Fault(Fault {
            code: "soap:Client".into(), string: "SoDinhDanh <phải> gồm 12 chữ số".into()
        }))
    );
}

#[test]
fn requests_the_registry_does_not_read() {
    let soap12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
    assert_eq!(read_request(soap12), Err(RequestError::NotSoap11));
    let other =
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Xoa/></s:Body></s:Envelope>"#;
    assert_eq!(read_request(other), Err(RequestError::UnknownOperation("Xoa".into())));
    assert_eq!(read_request("<!DOCTYPE x><x/>"), Err(RequestError::Xml(XmlError::Doctype)));
}

#[test]
fn the_table_covers_every_field_once() {
    let mut tags: Vec<&str> = Field::ALL.iter().map(|f| f.tag()).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), Field::ALL.len());
    let names: Vec<String> = Field::ALL
        .iter()
        .map(|f| serde_json::from_value::<Field>(json!(f.name())).map(|g| g.name().to_string()).unwrap())
        .collect();
    assert_eq!(names, Field::ALL.map(|f| f.name().to_string()));
}

#[test]
fn every_fixture_has_its_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    // A new fixture fails this until a test above reads it and it is listed here.
    assert_eq!(
        names,
        [
            "doctype.xml",
            "fault_client.xml",
            "fault_sender_soap12.xml",
            "fault_server.xml",
            "malformed.xml",
            "match.xml",
            "mismatch.xml",
            "not_found.xml"
        ]
    );
}
