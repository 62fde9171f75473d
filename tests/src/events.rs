//! Reading events back in tests: every event a client may see, page by
//! page; and an HTTP receiver for webhooks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use repat_proto::v1 as pb;
use repat_proto::v1::event_service_client::EventServiceClient;

/// Every event after `after` the client may see, with the filters of
/// `request`, in sequence order.
pub async fn list_all<T>(
    client: &mut EventServiceClient<T>,
    mut request: pb::ListEventsRequest,
) -> Result<Vec<pb::Event>, tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    request.page_size = 100;
    let mut out = Vec::new();
    loop {
        let page = client.list_events(request.clone()).await?.into_inner();
        let n = page.events.len();
        out.extend(page.events);
        request.after_sequence = page.last_sequence;
        if n < 100 {
            return Ok(out);
        }
    }
}

/// The types of `events`, without the `repat.` prefix.
pub fn types(events: &[pb::Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.r#type.trim_start_matches("repat.").to_string())
        .collect()
}

/// A request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver on 127.0.0.1: answers each request with the next
/// status of its script (the last one once the script runs out) and keeps
/// what it received.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(script: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let kept = kept.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let kept = kept.clone();
                        let script = script.clone();
                        async move {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), v.to_str().unwrap_or_default().to_string())
                                })
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let n = {
                                let mut k = kept.lock().unwrap();
                                k.push(Received { headers, body });
                                k.len()
                            };
                            let status =
                                script.get(n - 1).or(script.last()).copied().unwrap_or(200);
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"ok")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/repat", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
