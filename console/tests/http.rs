//! The console's answers without a browser: mistakes in requests are 4xx with a reason,
//! limits hold, every answer carries the security headers, and names are escaped in the
//! HTML itself (not only as the browser shows it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::*;

/// `POST /api/shape` with a JSON body: the status and the whole answer.
fn post_shape(port: u16, json: &[u8]) -> (u16, String) {
    let headers = [("Content-Type", "application/json")];
    http(port, "POST", "/api/shape", &headers, json).unwrap()
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_answered_with_their_reason_and_limits_hold() {
    let stack = Stack::start(json!({})).await.unwrap();
    let port = stack.port;
    let cases = [
        (
            "/api/correlate?metric=app.web.requests&at=99999999999",
            400,
            "at must be",
        ),
        (
            "/api/correlate?metric=app.web.requests&window=10",
            400,
            "window must be",
        ),
        (
            "/api/correlate?metric=app.web.requests&max_lag=99999",
            400,
            "max_lag must be",
        ),
        (
            "/api/correlate?metric=no.such.metric",
            404,
            "no stored series",
        ),
        (
            "/api/series?metric=app.web.requests&from=-5",
            400,
            "from must be",
        ),
        ("/api/alarms?filter=a%5Bb", 400, "invalid pattern"),
    ];
    for (path, status, reason) in cases {
        let (got, text) = http_get(port, path, &[]).unwrap();
        assert_eq!(got, status, "{path}: {text}");
        let v: Value = serde_json::from_str(body(&text)).unwrap();
        assert!(v["error"].as_str().unwrap().contains(reason), "{path}: {v}");
    }
    let (got, text) = http_get(port, "/metric/app.web.requests?range=%3Cb%3E", &[]).unwrap();
    assert_eq!(got, 400, "{text}");
    assert!(
        body(&text).contains("&lt;b&gt;") && !body(&text).contains("<b>"),
        "{text}"
    );
    // Bodies: a flat shape, a shape of three values too many, and a body over the limit.
    let (got, text) = post_shape(port, br#"{"values": [1, 1, 1, 1]}"#);
    assert_eq!(got, 400, "{text}");
    assert!(body(&text).contains("flat"), "{text}");
    let too_long = format!("{{\"values\": [{}]}}", vec!["1.5"; 10_003].join(","));
    let (got, text) = post_shape(port, too_long.as_bytes());
    assert_eq!(got, 400, "{text}");
    assert!(body(&text).contains("3 to 10000 values"), "{text}");
    let huge = format!("{{\"values\": [{}]}}", vec!["1.000000"; 40_000].join(","));
    let (got, text) = post_shape(port, huge.as_bytes());
    assert_eq!(got, 413, "{}", &text[..text.len().min(300)]);
    let (got, _) = post_shape(port, br#"{"values": [1, 2, 3], "bogus": 1}"#);
    assert_eq!(got, 422);
    // A good shape search answers a ranking.
    let (got, text) = post_shape(
        port,
        br#"{"values": [0, 0, 0, 5, 5, 4, 2, 1, 0, 0], "top": 3}"#,
    );
    assert_eq!(got, 200, "{text}");
    let ranked: Vec<Value> = serde_json::from_str(body(&text)).unwrap();
    assert_eq!(ranked.len(), 3);
    assert!(
        ranked
            .iter()
            .all(|r| r["distance"].as_f64().unwrap() >= 0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers_and_names_are_escaped_in_the_html() {
    let stack = Stack::start(json!({})).await.unwrap();
    let name = support::HOSTILE_METRIC;
    let path = format!(
        "/metric/{}",
        name.bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    for p in [
        "/",
        path.as_str(),
        "/find?pattern=script",
        "/api/alarms",
        "/no/such/page",
    ] {
        let (status, text) = http_get(stack.port, p, &[]).unwrap();
        let head = text.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
        assert!(
            status == 200 || (p == "/no/such/page" && status == 404),
            "{p}: {status}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{p}: {head}"
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{p}");
        assert!(head.contains("x-frame-options: deny"), "{p}");
        if p.starts_with("/api/") {
            // JSON keeps names as they are, and is never sniffed as HTML.
            assert!(
                head.contains("content-type: application/json"),
                "{p}: {head}"
            );
            continue;
        }
        assert!(head.contains("content-type: text/html"), "{p}: {head}");
        let b = body(&text);
        assert!(
            !b.contains("<script>window"),
            "{p} carries the name unescaped"
        );
        assert!(
            !b.contains("<img src=x"),
            "{p} carries the subject unescaped"
        );
    }
    let (_, text) = http_get(stack.port, &path, &[]).unwrap();
    assert!(
        body(&text).contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;.cpu"),
        "{text}"
    );
    let (_, text) = http_get(stack.port, "/", &[]).unwrap();
    assert!(
        body(&text).contains(
            "&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;\\u{1b}[31m"
        ),
        "{text}"
    );
}
