//! The console as a signed-in operator sees it over HTTP: the session cookie goes with every
//! request, and each form is posted from the console's own origin (or another, to test that).

use lgsp_bus::console::session::COOKIE;
use lgsp_bus::testing::SECRET;
use reqwest::header::SET_COOKIE;
use reqwest::redirect::Policy;

use super::TestBus;

pub struct Console {
    pub http: reqwest::Client,
    pub base: String,
    pub session: String,
}

impl Console {
    /// Signs `name` in through the form (their password is the tests' secret).
    pub async fn sign_in(bus: &TestBus, name: &str) -> Console {
        let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        let base = bus.api.base.clone();
        let form = [("name", name), ("password", SECRET)];
        let response =
            http.post(format!("{base}/console/sign-in")).header("origin", &base).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 303, "{name} signs in");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(cookie.starts_with(&format!("{COOKIE}=")), "{cookie}");
        let session = cookie.split(';').next().unwrap().to_string();
        Console { http, base, session }
    }

    pub async fn fetch(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", &self.session).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.fetch(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        self.post_from(&self.base, path, form).await
    }

    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let request = self.http.post(format!("{}{path}", self.base)).header("cookie", &self.session);
        let response = request.header("origin", origin).form(form).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A file: its bytes, once its type and disposition are checked.
    pub async fn download(&self, path: &str, media_type: &str, name: &str) -> Vec<u8> {
        let response = self.fetch(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(media_type), "{headers:?}");
        assert_eq!(headers["content-disposition"], format!("attachment; filename=\"{name}\""), "{headers:?}");
        assert_eq!(headers["cache-control"], "no-store");
        response.bytes().await.unwrap().to_vec()
    }
}
