//! The console's port: the built console with its security headers, and
//! the same services over gRPC-Web (HTTP/1.1, as a browser sends them).

use prost::Message;
use repat_proto::v1 as pb;
use repat_tests::{Backend, spawn_with};
use repatd::config::ConsoleListen;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 exchange on a fresh connection: the status line and
/// headers (lower-cased names), and the body (chunks joined).
async fn http(
    addr: std::net::SocketAddr,
    request: Vec<u8>,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the console");
    stream.write_all(&request).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    (status, headers, body)
}

fn get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A gRPC-Web call: the message framed (flag, length, bytes), POSTed.
fn grpc_web(path: &str, host: &str, message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    body.extend_from_slice(&bytes);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// The frames of a gRPC-Web response: (messages, trailer text).
fn frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = body[5..5 + len].to_vec();
        if body[0] & 0x80 != 0 {
            trailers.push_str(&String::from_utf8(payload).unwrap());
        } else {
            messages.push(payload);
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_serves_its_pages_and_the_api_over_grpc_web() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.console_listen = ConsoleListen(Some(([127, 0, 0, 1], 0).into()))
    })
    .await
    .expect("sqlite");
    let addr = app.server.console_addr.expect("the console is served");
    let host = format!("127.0.0.1:{}", addr.port());

    // The page, with its policy: scripts from this origin only, never framed.
    let (status, headers, body) = http(addr, get("/", &host)).await;
    assert!(status.ends_with("200 OK"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&headers, "content-security-policy").expect("a content security policy");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(body).unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .filter(|s| s.starts_with("/assets/"))
        .expect("a script by src");
    let (status, headers, body) = http(addr, get(script, &host)).await;
    assert!(status.ends_with("200 OK"), "{script}: {status}");
    assert!(
        header(&headers, "cache-control")
            .unwrap()
            .contains("immutable"),
        "hashed assets are cached for good"
    );
    assert!(!body.is_empty());
    let (status, _, _) = http(addr, get("/no/such/file.js", &host)).await;
    assert!(status.contains(" 404 "), "{status}");

    // The API, through the same gate: a party created over gRPC is listed
    // over gRPC-Web.
    let made = app.create_firm("Console Soft Ltd").await;
    let (status, headers, body) = http(
        addr,
        grpc_web(
            "/repat.v1.PartyService/ListParties",
            &host,
            &pb::ListPartiesRequest::default(),
        ),
    )
    .await;
    assert!(status.ends_with("200 OK"), "{status}");
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("application/grpc-web")
    );
    let (messages, trailers) = frames(&body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let listed = pb::ListPartiesResponse::decode(&messages[0][..]).unwrap();
    assert!(
        listed
            .parties
            .iter()
            .any(|p| p.id == made.id && p.legal_name == "Console Soft Ltd")
    );
    // The console's search, as the journey tracker calls it.
    let search = pb::SearchRepatriationsRequest {
        invoice_reference: "NONE-1".into(),
        ..Default::default()
    };
    let (_, _, body) = http(
        addr,
        grpc_web(
            "/repat.v1.RepatriationService/SearchRepatriations",
            &host,
            &search,
        ),
    )
    .await;
    assert!(frames(&body).1.contains("grpc-status:0"));

    // Without tokens every caller is the administrator: a page of another
    // site whose name points at 127.0.0.1 gets nothing.
    let (status, _, _) = http(addr, get("/", &format!("evil.example:{}", addr.port()))).await;
    assert!(status.contains(" 421 "), "{status}");
    let (status, _, _) = http(
        addr,
        grpc_web(
            "/repat.v1.PartyService/ListParties",
            "evil.example",
            &pb::ListPartiesRequest::default(),
        ),
    )
    .await;
    assert!(status.contains(" 421 "), "{status}");
    // A form post (a content type a browser sends cross-site without
    // asking) is not an API call.
    let form = format!(
        "POST /repat.v1.PartyService/CreateParty HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    let (status, _, _) = http(addr, form.into_bytes()).await;
    assert!(status.contains(" 405 "), "{status}");
    app.finish().await;
}

#[tokio::test]
async fn console_needs_loopback_without_tokens() {
    let result = repatd::start(&repatd::Settings {
        console_listen: ConsoleListen(Some(([0, 0, 0, 0], 0).into())),
        ..repatd::Settings::ephemeral(format!(
            "sqlite:{}",
            std::env::temp_dir()
                .join(format!("repat-console-{}.db", uuid::Uuid::new_v4()))
                .display()
        ))
    })
    .await;
    let error = result.err().expect("refused").to_string();
    assert!(error.contains("without authentication"), "{error}");
}
