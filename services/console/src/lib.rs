//! The browser console for firms and auditors, served by repatd on its own
//! port: the built front end (`dist/`, built from `web/` and committed, so
//! a plain `cargo build` needs no npm) compiled into the binary, and the
//! API itself over gRPC-Web, handed in by the server, beside it.
//!
//! Requests are told apart by protocol: a `content-type` of
//! `application/grpc...` goes to the API, a `GET` or `HEAD` to the assets,
//! anything else is refused. Cross-site pages cannot reach the API: its
//! content types are not CORS-safelisted, so a browser asks first (an
//! `OPTIONS` preflight), which is refused here.

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};
use tower::{Service, ServiceExt};

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/dist");

/// Scripts, styles, images and API calls from this origin only; no inline
/// script or style, no plugins, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Headers on every response, assets and API alike.
const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    ),
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Who may reach the console by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    /// Any `Host` (the API authenticates every call with a token).
    Any,
    /// Only loopback names (`localhost`, `127.x.x.x`, `[::1]`): where every
    /// caller is the administrator, a page of another site whose name was
    /// pointed at 127.0.0.1 (DNS rebinding) must not be served.
    Loopback,
}

/// The console's HTTP service: the assets, and `api` (the gRPC services
/// behind a gRPC-Web translation) for API calls.
pub fn router<S, B>(api: S, hosts: Hosts) -> Router
where
    S: Service<Request, Response = Response<B>, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Router::new().fallback(move |request: Request| {
        let api = api.clone();
        async move {
            let mut response = if hosts == Hosts::Loopback && !loopback_host(request.headers()) {
                (
                    StatusCode::MISDIRECTED_REQUEST,
                    "this console answers to loopback names only (localhost, 127.0.0.1, [::1])\n",
                )
                    .into_response()
            } else if is_grpc(request.headers()) {
                match api.oneshot(request).await {
                    Ok(r) => r.map(Body::new),
                    Err(never) => match never {},
                }
            } else if matches!(*request.method(), Method::GET | Method::HEAD) {
                asset(request.uri().path())
            } else {
                let mut r = (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "the console serves GET, HEAD and gRPC-Web\n",
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            };
            for (name, value) in SECURITY_HEADERS {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            response
        }
    })
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    // Drop the port: "[::1]:8080" -> "[::1]", "localhost:8080" -> "localhost".
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !name.ends_with(':') =>
        {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A file of the built console; `/` is `index.html`. Hashed assets are
/// cached for good; the page itself is revalidated.
fn asset(path: &str) -> Response {
    let path = match path.trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    let Some(file) = DIST.get_file(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        Body::from(Bytes::from_static(file.contents())),
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built files, by path.
    fn files() -> Vec<(&'static str, &'static [u8])> {
        fn walk(dir: &'static Dir<'static>, out: &mut Vec<(&'static str, &'static [u8])>) {
            for f in dir.files() {
                out.push((f.path().to_str().unwrap_or_default(), f.contents()));
            }
            for d in dir.dirs() {
                walk(d, out);
            }
        }
        let mut out = Vec::new();
        walk(&DIST, &mut out);
        out.sort();
        out
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn loopback_names_only() {
        for h in [
            "localhost",
            "localhost:50052",
            "LOCALHOST:1",
            "127.0.0.1:50052",
            "127.1.2.3",
            "[::1]:50052",
            "[::1]",
        ] {
            assert!(loopback_host(&host(h)), "{h}");
        }
        for h in [
            "evil.example:50052",
            "10.0.0.1:50052",
            "localhost.evil.example",
            "[::2]:1",
            "0.0.0.0:50052",
        ] {
            assert!(!loopback_host(&host(h)), "{h}");
        }
        assert!(!loopback_host(&HeaderMap::new()), "no Host at all");
    }

    #[test]
    fn the_page_and_its_assets_are_built_in() {
        let files = files();
        assert!(
            files.iter().any(|(p, _)| *p == "index.html"),
            "{:?}",
            files.iter().map(|f| f.0).collect::<Vec<_>>()
        );
        let index = std::str::from_utf8(DIST.get_file("index.html").unwrap().contents()).unwrap();
        assert!(
            !index.contains("<script>") && !index.contains("style="),
            "no inline script or style in index.html"
        );
        assert!(
            files
                .iter()
                .any(|(p, _)| p.starts_with("assets/") && p.ends_with(".js"))
        );
    }
}
