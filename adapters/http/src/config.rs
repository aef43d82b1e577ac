//! `[adapters.<id>]` settings of an `http` adapter: where the agency's service is, how each call
//! proves who sends it, what body a message becomes, what the service's answers mean, and which
//! request/reply services it offers.
//!
//! Parsing (serde) and validation are separate steps, so that `lgsp check-config` lists every
//! problem at once, each keyed relative to the adapter's table (`url`, `auth.token`, …).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use lgsp_bus::config::{Settings, duration, env_var_for, parse_section};
use lgsp_bus::peer;
use lgsp_bus::{ConfigProblem, Secret};
use serde::{Deserialize, Deserializer};
use url::{Host, Url};

use crate::mapping::Mapping;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Base URL of the agency's service: `path` and each service's `path` are appended to it.
    /// https, or plain http on loopback only.
    pub url: Url,
    /// Longest one HTTP call to the service (or its token endpoint) may take.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// PEM file of a private CA to trust besides the public ones.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate (PEM, with its chain) presented to a service that asks for mutual
    /// TLS, with `client_key`, its private key (PKCS#8 PEM). Required by `auth.type = "mtls"`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// How each call proves who sends it; `type = "none"` when absent.
    #[serde(default)]
    pub auth: AuthConfig,
    /// A minijinja template rendered with `envelope` and `annotations` into the JSON body of a
    /// delivery; without it, the body is the canonical envelope.
    #[serde(default)]
    pub mapping: Option<String>,
    /// The HTTP method of a delivery.
    #[serde(default)]
    pub method: Method,
    /// Path of the delivery call, appended to `url`; `url` itself when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// JSON pointer (such as `/code`) to the code in the service's 2xx answer that says whether it
    /// took the message; without it, any 2xx is taken.
    #[serde(default)]
    pub answer_code: Option<String>,
    /// The codes at `answer_code` that mean "taken"; `["0"]` when absent.
    #[serde(default)]
    pub success_codes: Option<Vec<Code>>,
    /// Request/reply services the agency offers, by name (such as `land.parcel_lookup`).
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
    /// What the simulator answers; the adapter ignores it.
    #[serde(default)]
    pub simulator: SimulatorSettings,
}

/// `[auth]`: one table for every type; each type uses its own keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `none` (loopback only), `bearer`, `oauth2`, `mtls` or `hmac`.
    #[serde(rename = "type", default)]
    pub kind: AuthKind,
    /// bearer: the static token, from the environment only (`…__AUTH__TOKEN`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// oauth2: the token endpoint (client credentials): a path appended to `url`, such as
    /// `/oauth2/token`, or a full URL when the identity server is elsewhere.
    #[serde(default)]
    pub token_url: Option<String>,
    /// oauth2: the client id the identity server issued to the bus.
    #[serde(default)]
    pub client_id: Option<String>,
    /// oauth2: its secret, from the environment only (`…__AUTH__CLIENT_SECRET`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// oauth2: the scope to ask for, if the identity server wants one.
    #[serde(default)]
    pub scope: Option<String>,
    /// hmac: the key of the HMAC-SHA256 that signs each body, from the environment only
    /// (`…__AUTH__SECRET`).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// hmac: the header carrying `sha256=<hex>`.
    #[serde(default)]
    pub header: Option<String>,
}

/// How a call proves who sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    #[default]
    None,
    Bearer,
    Oauth2,
    Mtls,
    Hmac,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::None => "none",
            AuthKind::Bearer => "bearer",
            AuthKind::Oauth2 => "oauth2",
            AuthKind::Mtls => "mtls",
            AuthKind::Hmac => "hmac",
        }
    }
}

/// The method of a delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Post,
    Put,
}

impl Method {
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        }
    }
}

/// `[services."<name>"]`: one request/reply service of the agency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Path of the call, appended to `url`; the request is POSTed there as JSON.
    pub path: String,
}

/// `[simulator]`: what the simulator of this adapter answers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorSettings {
    /// The reply to each service, by service name.
    #[serde(default)]
    pub replies: BTreeMap<String, toml::Value>,
}

/// An answer code as written in the settings: text, or a whole number (`0` is `"0"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(pub String);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(code) => Ok(Code(code)),
            toml::Value::Integer(code) => Ok(Code(code.to_string())),
            _ => Err(serde::de::Error::custom("a code is a string or a whole number")),
        }
    }
}

const fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A service that takes longer than this to answer one message is better retried later.
const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// The header of `auth.type = "hmac"` when `auth.header` is absent.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Lgsp-Signature";
/// A shorter HMAC key can be guessed.
const MIN_HMAC_SECRET_CHARS: usize = 16;
/// The success code when `answer_code` is set and `success_codes` is not.
pub const DEFAULT_SUCCESS_CODE: &str = "0";
/// Headers the adapter sets itself, which a signature header cannot replace.
const OWN_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "content-length",
    "accept",
    "host",
    "idempotency-key",
    "x-lgsp-message-id",
    "x-lgsp-message-type",
    "x-lgsp-request-id",
];

/// The secrets `lgsp sandbox` (and the conformance suite) fill in under `[auth]` where the
/// operator set none; each auth type uses only its own.
pub const SANDBOX_SECRETS: [&str; 3] = ["token", "client_secret", "secret"];

impl Settings for HttpConfig {
    fn parse(settings: &toml::Table) -> Result<Self, ConfigProblem> {
        parse_section(settings).map_err(|problem| quote_names(problem, settings))
    }

    /// Every problem with these settings, keyed relative to the adapter's table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let mut problems = peer::url_problems(&self.url, true);
        problems.extend(plain_http_problem("url", &self.url));
        problems.extend(peer::timeout_problem(self.timeout, MAX_TIMEOUT));
        problems.extend(self.tls().problems());
        problems.extend(self.auth_problems(id));
        if let Some(template) = &self.mapping
            && let Err(error) = Mapping::compile(template)
        {
            problems.push(ConfigProblem::new("mapping", format!("does not compile: {error}")));
        }
        if let Some(path) = &self.path {
            problems.extend(peer::endpoint_problem("path", path, "/lgsp/dossiers"));
        }
        problems.extend(self.answer_problems());
        problems.extend(self.service_problems());
        problems
    }
}

impl HttpConfig {
    /// Its peer's TLS files.
    pub fn tls(&self) -> peer::PeerTls<'_> {
        peer::PeerTls {
            ca_file: self.ca_file.as_deref(),
            client_cert: self.client_cert.as_deref(),
            client_key: self.client_key.as_deref(),
        }
    }

    /// Where deliveries go: `{url}{path}`, or `url` itself.
    pub fn delivery_url(&self) -> Url {
        match &self.path {
            Some(path) => peer::endpoint_url(&self.url, path),
            None => self.url.clone(),
        }
    }

    /// Where the service `name` is called, if the agency offers it.
    pub fn service_url(&self, name: &str) -> Option<Url> {
        self.services.get(name).map(|service| peer::endpoint_url(&self.url, &service.path))
    }

    /// Where OAuth2 tokens come from: `auth.token_url` below `url`, or as written when it is a URL.
    pub fn token_url(&self) -> Option<Url> {
        let token_url = self.auth.token_url.as_deref()?;
        Some(if token_url.starts_with('/') {
            peer::endpoint_url(&self.url, token_url)
        } else {
            Url::parse(token_url).unwrap_or_else(|_| peer::endpoint_url(&self.url, token_url))
        })
    }

    /// The codes at `answer_code` that mean the message was taken.
    pub fn success_codes(&self) -> Vec<String> {
        match &self.success_codes {
            Some(codes) => codes.iter().map(|code| code.0.clone()).collect(),
            None => vec![DEFAULT_SUCCESS_CODE.to_string()],
        }
    }

    /// The header of an HMAC signature.
    pub fn signature_header(&self) -> &str {
        self.auth.header.as_deref().unwrap_or(DEFAULT_SIGNATURE_HEADER)
    }

    fn auth_problems(&self, id: &str) -> Vec<ConfigProblem> {
        let auth = &self.auth;
        let kind = auth.kind;
        let mut problems = Vec::new();
        // Keys of another type are a mistake worth saying; a secret of another type is not: the
        // sandbox offers one for each type.
        for (key, set, used_by) in [
            ("auth.token_url", auth.token_url.is_some(), AuthKind::Oauth2),
            ("auth.client_id", auth.client_id.is_some(), AuthKind::Oauth2),
            ("auth.scope", auth.scope.is_some(), AuthKind::Oauth2),
            ("auth.header", auth.header.is_some(), AuthKind::Hmac),
        ] {
            if set && kind != used_by {
                problems.push(ConfigProblem::new(key, format!("is used with type = \"{}\" only", used_by.as_str())));
            }
        }
        match kind {
            AuthKind::None if !is_loopback(&self.url) => problems.push(ConfigProblem::new(
                "auth.type",
                format!(
                    "is \"none\", which only a service on loopback may have: set [adapters.{id}.auth] with type = \
                     \"bearer\", \"oauth2\", \"mtls\" or \"hmac\""
                ),
            )),
            AuthKind::None | AuthKind::Mtls => {}
            AuthKind::Bearer => problems.extend(peer::required_secret(id, "auth.token", auth.token.as_ref())),
            AuthKind::Oauth2 => problems.extend(self.oauth2_problems(id)),
            AuthKind::Hmac => {
                problems.extend(peer::required_secret(id, "auth.secret", auth.secret.as_ref()));
                if let Some(secret) = &auth.secret
                    && !secret.expose().is_empty()
                    && secret.expose().chars().count() < MIN_HMAC_SECRET_CHARS
                {
                    problems.push(ConfigProblem::new(
                        "auth.secret",
                        format!(
                            "must be at least {MIN_HMAC_SECRET_CHARS} characters: set a longer {}",
                            env_var_for(&format!("adapters.{id}.auth.secret"))
                        ),
                    ));
                }
                problems.extend(signature_header_problem(self.signature_header()));
            }
        }
        if kind == AuthKind::Mtls && (self.client_cert.is_none() || self.client_key.is_none()) {
            problems.push(ConfigProblem::new(
                "auth.type",
                "is \"mtls\", which needs client_cert and client_key: the certificate (PEM) and its private key \
                 (PKCS#8 PEM) presented to the service",
            ));
        }
        problems
    }

    fn oauth2_problems(&self, id: &str) -> Vec<ConfigProblem> {
        const EXAMPLES: &str = "a path such as /oauth2/token, or a URL such as https://sso.example/oauth2/token";
        let auth = &self.auth;
        let mut problems = Vec::new();
        match auth.token_url.as_deref() {
            None => problems.push(ConfigProblem::new("auth.token_url", format!("is required: {EXAMPLES}"))),
            Some(path) if path.starts_with('/') => {
                problems.extend(peer::endpoint_problem("auth.token_url", path, "/oauth2/token"));
            }
            Some(text) => match Url::parse(text) {
                Ok(url) if ["http", "https"].contains(&url.scheme()) && url.host().is_some() => {
                    // The token call carries the client secret.
                    problems.extend(plain_http_problem("auth.token_url", &url));
                }
                _ => problems.push(ConfigProblem::new("auth.token_url", format!("must be {EXAMPLES}"))),
            },
        }
        if auth.client_id.as_deref().is_none_or(|client_id| client_id.trim().is_empty()) {
            problems
                .push(ConfigProblem::new("auth.client_id", "is required: the client id the identity server issued"));
        }
        problems.extend(peer::required_secret(id, "auth.client_secret", auth.client_secret.as_ref()));
        problems
    }

    fn answer_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Some(pointer) = &self.answer_code
            && !pointer.starts_with('/')
        {
            problems.push(ConfigProblem::new("answer_code", "must be a JSON pointer such as /code or /result/code"));
        }
        match &self.success_codes {
            Some(_) if self.answer_code.is_none() => problems
                .push(ConfigProblem::new("success_codes", "is used with answer_code only: say where the code is")),
            Some(codes) if codes.is_empty() => {
                problems.push(ConfigProblem::new("success_codes", "needs at least one code, such as \"0\""));
            }
            _ => {}
        }
        problems
    }

    fn service_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let delivery = self.delivery_url();
        let mut seen: Vec<(&str, String)> = Vec::new();
        for (name, service) in &self.services {
            let key = format!("services.\"{name}\"");
            if !valid_service_name(name) {
                problems.push(ConfigProblem::new(
                    key.clone(),
                    "a service name is lower-case words joined by dots, such as land.parcel_lookup",
                ));
            }
            if let Some(problem) = peer::endpoint_problem("path", &service.path, "/lgsp/parcels/lookup") {
                problems.push(problem.under(&key));
                continue;
            }
            let url = peer::endpoint_url(&self.url, &service.path);
            if url.path() == delivery.path() {
                problems.push(ConfigProblem::new(
                    format!("{key}.path"),
                    "is where messages are delivered: a service needs a path of its own",
                ));
            } else if let Some((other, _)) = seen.iter().find(|(_, path)| *path == url.path()) {
                problems
                    .push(ConfigProblem::new(format!("{key}.path"), format!("is also the path of service {other}")));
            }
            seen.push((name, url.path().to_string()));
        }
        problems
    }
}

/// A problem under a service's table keyed as the other problems are: `services."land.x".path`,
/// not `services.land.x.path` (serde joins every segment with a dot).
fn quote_names(mut problem: ConfigProblem, settings: &toml::Table) -> ConfigProblem {
    for table in ["services", "simulator.replies"] {
        let names = match table.split_once('.') {
            None => settings.get(table),
            Some((outer, inner)) => settings.get(outer).and_then(|o| o.get(inner)),
        };
        let Some(names) = names.and_then(toml::Value::as_table) else { continue };
        // The longest name that fits: `land` and `land.x` may both be services.
        let found = names
            .keys()
            .filter_map(|name| {
                let rest = problem.key.strip_prefix(&format!("{table}.{name}"))?;
                (rest.is_empty() || rest.starts_with('.')).then(|| (name.clone(), rest.to_string()))
            })
            .max_by_key(|(name, _)| name.len());
        if let Some((name, rest)) = found {
            problem.key = format!("{table}.\"{name}\"{rest}");
            return problem;
        }
    }
    problem
}

/// Plain http only to loopback: anything else crosses a network a bus must not trust.
fn plain_http_problem(key: &str, url: &Url) -> Option<ConfigProblem> {
    (url.scheme() == "http" && !is_loopback(url)).then(|| {
        ConfigProblem::new(key, "plain http is allowed on loopback only (127.0.0.1, ::1, localhost): use https://")
    })
}

/// Whether `url` points at this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A service name as the bus's services are named: lower-case words joined by dots.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.split('.').all(|word| {
            !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

fn signature_header_problem(header: &str) -> Option<ConfigProblem> {
    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
        return Some(ConfigProblem::new("auth.header", "must be an HTTP header name, such as X-Lgsp-Signature"));
    }
    OWN_HEADERS.contains(&header.to_ascii_lowercase().as_str()).then(|| {
        ConfigProblem::new("auth.header", format!("`{header}` is set by the adapter itself: choose another header"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    const VALID: &str = r#"
        url = "https://dat-dai.hatinh.example/api"
        [auth]
        type = "bearer"
        token = "from the environment"
    "#;

    fn keys(text: &str) -> Vec<String> {
        let config = HttpConfig::parse(&settings(text)).unwrap();
        config.problems("land").into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = HttpConfig::from_settings("land", &settings(VALID)).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.method, Method::Post);
        assert_eq!(config.delivery_url().as_str(), "https://dat-dai.hatinh.example/api");
        assert_eq!(config.success_codes(), ["0"]);
        assert_eq!(config.signature_header(), "X-Lgsp-Signature");
        assert!(config.services.is_empty() && config.mapping.is_none() && config.answer_code.is_none());
        assert_eq!(format!("{:?}", config.auth.token), "Some(***)");
        let none = HttpConfig::from_settings("land", &settings("url = \"http://127.0.0.1:9106/land\"")).unwrap();
        assert_eq!(none.auth.kind, AuthKind::None);
    }

    #[test]
    fn urls_below_the_base() {
        let text = format!("{VALID}\n[services.\"land.parcel_lookup\"]\npath = \"/lgsp/parcels/lookup\"\n",)
            .replace("type = \"bearer\"", "type = \"oauth2\"\ntoken_url = \"/oauth2/token\"\nclient_id = \"lgsp\"");
        let mut config = HttpConfig::parse(&settings(&text)).unwrap();
        config.path = Some("/lgsp/dossiers".into());
        assert_eq!(config.delivery_url().as_str(), "https://dat-dai.hatinh.example/api/lgsp/dossiers");
        assert_eq!(
            config.service_url("land.parcel_lookup").unwrap().as_str(),
            "https://dat-dai.hatinh.example/api/lgsp/parcels/lookup"
        );
        assert_eq!(config.service_url("land.other"), None);
        assert_eq!(config.token_url().unwrap().as_str(), "https://dat-dai.hatinh.example/api/oauth2/token");
        config.auth.token_url = Some("https://sso.hatinh.example/realms/lgsp/token".into());
        assert_eq!(config.token_url().unwrap().as_str(), "https://sso.hatinh.example/realms/lgsp/token");
    }

    #[test]
    fn every_problem_is_keyed() {
        let text = r#"
            url = "http://dat-dai.hatinh.example/api"
            timeout = "10m"
            ca_file = "/nonexistent/ca.pem"
            mapping = "{{ envelope.id "
            path = "lgsp"
            answer_code = "code"
            [auth]
            type = "hmac"
            secret = "short"
            header = "Content-Type"
            token_url = "/oauth2/token"
            [services."Land Lookup"]
            path = "/lookup"
            [services."land.a"]
            path = "/"
            [services."land.b"]
            path = "/lookup"
        "#;
        assert_eq!(
            keys(text),
            [
                "url",
                "timeout",
                "ca_file",
                "auth.token_url",
                "auth.secret",
                "auth.header",
                "mapping",
                "path",
                "answer_code",
                "services.\"Land Lookup\"",
                "services.\"land.a\".path",
                "services.\"land.b\".path",
            ]
        );
    }

    #[test]
    fn each_auth_type_needs_its_own_keys() {
        let url = "url = \"https://dat-dai.hatinh.example\"\n";
        assert_eq!(keys(&format!("{url}[auth]\ntype = \"bearer\"")), ["auth.token"]);
        assert_eq!(
            keys(&format!("{url}[auth]\ntype = \"oauth2\"")),
            ["auth.token_url", "auth.client_id", "auth.client_secret"]
        );
        assert_eq!(keys(&format!("{url}[auth]\ntype = \"hmac\"")), ["auth.secret"]);
        assert_eq!(keys(&format!("{url}[auth]\ntype = \"mtls\"")), ["auth.type"]);
        assert_eq!(keys(url), ["auth.type"]);
        let oauth2 = format!(
            "{url}[auth]\ntype = \"oauth2\"\ntoken_url = \"http://sso.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\""
        );
        assert_eq!(keys(&oauth2), ["auth.token_url"], "the client secret would cross in plain http");
        // A secret of another type is ignored: the sandbox offers one for each.
        assert!(
            keys(&format!("{url}[auth]\ntype = \"bearer\"\ntoken = \"t\"\nsecret = \"s\"\nclient_secret = \"c\""))
                .is_empty()
        );

        let problems = HttpConfig::from_settings("land", &settings(url)).unwrap_err();
        assert!(problems[0].reason.contains("[adapters.land.auth]"), "{}", problems[0]);
        let problems =
            HttpConfig::from_settings("land", &settings(&format!("{url}[auth]\ntype = \"bearer\""))).unwrap_err();
        assert!(problems[0].reason.contains("LGSP__ADAPTERS__LAND__AUTH__TOKEN"), "{}", problems[0]);
    }

    #[test]
    fn plain_http_and_no_auth_only_on_loopback() {
        for loopback in ["http://127.0.0.1:9106", "http://localhost:9106/land", "http://[::1]:9106"] {
            assert!(keys(&format!("url = \"{loopback}\"")).is_empty(), "{loopback}");
        }
        assert_eq!(keys("url = \"http://10.0.0.5:9106\"\n[auth]\ntype = \"bearer\"\ntoken = \"t\""), ["url"]);
    }

    #[test]
    fn answer_codes_need_a_pointer() {
        let url = "url = \"http://127.0.0.1:9106\"\n";
        assert_eq!(keys(&format!("{url}success_codes = [\"0\"]")), ["success_codes"]);
        assert_eq!(keys(&format!("{url}answer_code = \"/code\"\nsuccess_codes = []")), ["success_codes"]);
        let config =
            HttpConfig::parse(&settings(&format!("{url}answer_code = \"/code\"\nsuccess_codes = [0, \"00\"]")))
                .unwrap();
        assert_eq!(config.success_codes(), ["0", "00"]);
        assert!(
            HttpConfig::parse(&settings(&format!("{url}answer_code = \"/code\"\nsuccess_codes = [true]"))).is_err()
        );
    }

    #[test]
    fn parse_problems_name_the_key() {
        let missing = HttpConfig::parse(&settings("timeout = \"5s\"")).unwrap_err();
        assert_eq!(missing, ConfigProblem::new("url", "is required"));
        let unknown = HttpConfig::parse(&settings(&format!("{VALID}\ntokn = \"x\""))).unwrap_err();
        assert_eq!(unknown.key, "auth.tokn");
        let method = HttpConfig::parse(&settings(&format!("method = \"PATCH\"\n{VALID}"))).unwrap_err();
        assert_eq!(method.key, "method");
        let kind = HttpConfig::parse(&settings(&VALID.replace("bearer", "basic"))).unwrap_err();
        assert_eq!(kind.key, "auth.type");
        let reply = HttpConfig::parse(&settings(&format!("{VALID}\n[simulator]\nreply = 1\n"))).unwrap_err();
        assert_eq!(reply.key, "simulator.reply");
        let services = "[services.\"land\"]\npath = \"/a\"\n[services.\"land.x\"]\npth = \"/b\"\n";
        let service = HttpConfig::parse(&settings(&format!("{VALID}\n{services}"))).unwrap_err();
        assert_eq!(service.key, "services.\"land.x\".pth");
    }
}
