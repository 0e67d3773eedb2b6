//! The console in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `make test`) over WebDriver, against a running redis-server with planted series and alarms
//! and the `am-console` binary. Each test saves screenshots under
//! `target/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

/// A console over the demo data and a browser showing its page at `path`.
async fn open(path: &str) -> (Stack, Browser) {
    let stack = Stack::start(json!({})).await.unwrap();
    let browser = Browser::start().await.unwrap();
    browser.goto(&stack.url(path)).await.unwrap();
    (stack, browser)
}

/// The alarm is on `/`, with its state, algorithm, service, metric and reason; an alarm
/// raised while the page is open appears without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planted_alarm_is_listed_and_the_page_updates_itself() {
    let (stack, browser) = open("/").await;
    let row = browser
        .eval(
            r#"const row = [...document.querySelectorAll('table.alarms tbody tr')]
                 .find(r => r.innerText.includes(arguments[0]));
               return row ? row.innerText : null;"#,
            vec![json!(ANOMALOUS)],
        )
        .await
        .unwrap();
    let row = row
        .as_str()
        .expect("the planted alarm is listed on /")
        .to_owned();
    for want in [
        "ALARM",
        "critical",
        "Skyline",
        "demo",
        ANOMALOUS,
        "requests 350 above",
    ] {
        assert!(row.contains(want), "{want:?} missing from the row {row:?}");
    }
    browser.screenshot("alarms").await.unwrap();
    // A new alarm while the page is open: the page's own update brings it in.
    browser
        .eval("window.__same_page = true; return true;", Vec::new())
        .await
        .unwrap();
    stack
        .plant_alarm(
            "app.web.latency",
            "latency 9 times its usual",
            stack.at + 90,
        )
        .await
        .unwrap();
    browser
        .wait_for(
            "the new alarm to appear without a reload",
            r#"return document.querySelector('#alarms').innerText.includes('app.web.latency')
                      && window.__same_page === true;"#,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    // The filter keeps only matching metrics.
    browser
        .goto(&stack.url("/?filter=app.web.lat*"))
        .await
        .unwrap();
    let shown = browser
        .eval(
            "return document.querySelector('table.alarms').innerText;",
            Vec::new(),
        )
        .await
        .unwrap();
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains("app.web.latency") && !shown.contains(ANOMALOUS),
        "{shown}"
    );
    browser.screenshot("alarms-filtered").await.unwrap();
    browser.close().await.unwrap();
}

/// The metric's page draws its series (an SVG line with real extent, not a blank plot) with
/// the alarm's transition marked, and below it ranks the planted follower (same shape,
/// three minutes later) first among the 1,000 unrelated metrics, with its lag; the JSON API
/// gives the same ranking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metric_page_plots_the_series_and_ranks_the_follower_first() {
    let (stack, browser) = open("/").await;
    // Follow the alarm's link, as a person would.
    browser
        .eval(
            r#"[...document.querySelectorAll('table.alarms a.metric')]
                 .find(a => a.textContent === arguments[0]).click(); return true;"#,
            vec![json!(ANOMALOUS)],
        )
        .await
        .unwrap();
    browser
        .wait_for(
            "the metric's page",
            "return document.querySelector('h1.metric-name')?.textContent ?? null;",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let plot = browser
        .eval(
            r#"const svg = document.querySelector('#plot svg');
               if (!svg) return null;
               const lines = [...svg.querySelectorAll('polyline')];
               const longest = lines.reduce((a, l) => l.points.numberOfItems > a.points.numberOfItems ? l : a);
               const box = longest.getBBox();
               const r = svg.getBoundingClientRect();
               return { points: longest.points.numberOfItems, w: box.width, h: box.height,
                        shown_w: r.width, shown_h: r.height,
                        marks: [...svg.querySelectorAll('polyline, path')]
                                 .filter(e => (e.getAttribute('stroke') || '').toLowerCase() === '#c81e1e').length };"#,
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(plot.is_object(), "no plot on the metric's page");
    assert!(
        plot["points"].as_u64().unwrap() > 300,
        "the line has too few points: {plot}"
    );
    assert!(
        plot["w"].as_f64().unwrap() > 400.0 && plot["h"].as_f64().unwrap() > 100.0,
        "the line is not drawn across the plot: {plot}"
    );
    assert!(plot["shown_w"].as_f64().unwrap() > 400.0, "{plot}");
    assert!(
        plot["marks"].as_u64().unwrap() >= 1,
        "the ALARM transition is not marked: {plot}"
    );
    let first = browser
        .wait_for(
            "the correlation",
            r#"const c = document.querySelector('#correlate');
               if (c.dataset.state !== 'done') return null;
               const li = c.querySelector('ol.correlated li');
               return li ? { metric: li.dataset.metric, lag: Number(li.dataset.lag),
                             score: Number(li.dataset.score), text: li.innerText,
                             small: li.querySelectorAll('svg polyline').length,
                             count: c.querySelectorAll('ol.correlated li').length }
                         : { error: c.innerText };"#,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    browser.screenshot("metric").await.unwrap();
    assert_eq!(first["metric"], json!(FOLLOWER), "{first}");
    let lag = first["lag"].as_i64().unwrap();
    assert!(
        (lag - FOLLOWER_LAG).abs() <= 15,
        "lag {lag}, planted {FOLLOWER_LAG}: {first}"
    );
    assert!(first["score"].as_f64().unwrap() > 0.9, "{first}");
    assert!(first["text"].as_str().unwrap().contains("after"), "{first}");
    assert_eq!(first["count"], json!(20), "{first}");
    assert!(
        first["small"].as_u64().unwrap() >= 2,
        "no small plot: {first}"
    );
    // The JSON API: the same ranking.
    let url = stack.url(&format!(
        "/api/correlate?metric={ANOMALOUS}&at={}",
        stack.at
    ));
    browser.goto(&url).await.unwrap();
    let body = browser
        .eval("return document.body.innerText;", Vec::new())
        .await
        .unwrap();
    let ranking: Vec<Value> = serde_json::from_str(body.as_str().unwrap()).unwrap();
    assert_eq!(ranking.len(), 20);
    assert_eq!(ranking[0]["metric"], json!(FOLLOWER));
    assert!((ranking[0]["lag"].as_i64().unwrap() - FOLLOWER_LAG).abs() <= 15);
    let scores: Vec<f64> = ranking
        .iter()
        .map(|r| r["score"].as_f64().unwrap().abs())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {scores:?}"
    );
    assert!(ranking.iter().all(|r| r.as_object().unwrap().len() == 3));
    browser.close().await.unwrap();
}

/// A metric named `<script>…` and an alarm whose subject and reason are markup are shown as
/// text: nothing runs, no element is injected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_reasons_are_shown_as_text() {
    let (stack, browser) = open("/").await;
    let seen = browser
        .eval(
            r#"const t = document.querySelector('#alarms').innerText;
               return { subject: t.includes('"><img src=x onerror="window.__pwned=2">\\u{1b}[31m'),
                        reason: t.includes('<b onmouseover="window.__pwned=3">bold</b>\\nsecond line'),
                        imgs: document.querySelectorAll('#alarms img').length,
                        bolds: document.querySelectorAll('#alarms b').length,
                        pwned: window.__pwned ?? null };"#,
            Vec::new(),
        )
        .await
        .unwrap();
    browser.screenshot("hostile-alarms").await.unwrap();
    assert_eq!(
        seen,
        json!({ "subject": true, "reason": true, "imgs": 0, "bolds": 0, "pwned": null }),
        "the hostile alarm is not shown as text"
    );
    browser
        .goto(&stack.url("/find?pattern=script"))
        .await
        .unwrap();
    let found = browser
        .eval(
            r#"const a = [...document.querySelectorAll('ul.names a')];
               return { names: a.map(x => x.textContent), scripts: document.querySelectorAll('main script').length };"#,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(found, json!({ "names": [HOSTILE_METRIC], "scripts": 0 }));
    browser
        .eval(
            "document.querySelector('ul.names a').click(); return true;",
            Vec::new(),
        )
        .await
        .unwrap();
    let page = browser
        .wait_for(
            "the hostile metric's page",
            r#"const h = document.querySelector('h1.metric-name');
               return h ? { name: h.textContent, title: document.title,
                            scripts: document.querySelectorAll('main script').length,
                            plot: !!document.querySelector('#plot svg polyline'),
                            pwned: window.__pwned ?? null } : null;"#,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    browser.screenshot("hostile-metric").await.unwrap();
    assert_eq!(page["name"], json!(HOSTILE_METRIC), "{page}");
    assert!(
        page["title"].as_str().unwrap().starts_with(HOSTILE_METRIC),
        "{page}"
    );
    assert_eq!(page["scripts"], json!(0));
    assert_eq!(page["plot"], json!(true));
    assert_eq!(page["pwned"], Value::Null);
    browser.close().await.unwrap();
}

/// Search by shape: the planted bump, pasted as numbers, finds the two metrics that have it
/// before the 1,000 others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_shape_finds_the_metrics_shaped_like_it() {
    let (stack, browser) = open("/shape").await;
    // The last hour as the planted metrics see it: flat, the bump, its decay.
    let now = am_store::unix_now();
    let shape: Vec<String> = (0..120)
        .map(|k| {
            let ts = now - 3600 + k * 30;
            format!("{:.3}", 1000.0 + 5000.0 * bump(ts, stack.at))
        })
        .collect();
    browser
        .eval(
            r#"const f = document.getElementById('shape-form');
               f.elements['values'].value = arguments[0];
               f.elements['values'].dispatchEvent(new Event('input'));
               f.requestSubmit(); return true;"#,
            vec![json!(shape.join(", "))],
        )
        .await
        .unwrap();
    let found = browser
        .wait_for(
            "the shape search",
            r#"const r = document.getElementById('shape-results');
               if (r.dataset.state !== 'done') return null;
               return { metrics: [...r.querySelectorAll('li')].map(li => li.dataset.metric),
                        small: r.querySelectorAll('li svg polyline').length, text: r.innerText };"#,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    browser.screenshot("shape").await.unwrap();
    let metrics: Vec<&str> = found["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(metrics.len() >= 2, "{found}");
    let top2: std::collections::BTreeSet<&str> = metrics[..2].iter().copied().collect();
    assert_eq!(top2, [FOLLOWER, ANOMALOUS].into_iter().collect(), "{found}");
    assert!(found["small"].as_u64().unwrap() >= 4, "{found}");
    // Drawn on the canvas instead: a stroke gives values and the same search runs.
    browser
        .eval(
            r#"const c = document.getElementById('shape-canvas');
               const r = c.getBoundingClientRect();
               const ev = (type, x, y) => c.dispatchEvent(new PointerEvent(type,
                   { pointerId: 1, clientX: r.left + x, clientY: r.top + y, bubbles: true }));
               ev('pointerdown', 5, 150);
               for (let x = 5; x <= 595; x += 5) ev('pointermove', x, x < 300 ? 150 : x < 360 ? 20 : 20 + (x - 360) * 0.5);
               ev('pointerup', 595, 137);
               return document.getElementById('shape-form').elements['values'].value.split(',').length;"#,
            Vec::new(),
        )
        .await
        .map(|n| assert!(n.as_u64().unwrap() > 50, "the drawing gave {n} values"))
        .unwrap();
    browser.screenshot("shape-drawn").await.unwrap();
    browser.close().await.unwrap();
}

/// With `console.auth`, nothing is served without the credentials; the browser's basic
/// auth gets the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_nothing_is_served_without_credentials() {
    let stack =
        Stack::start(json!({ "auth": { "basic": { "username": "ops", "password": "s3cret" } } }))
            .await
            .unwrap();
    for path in [
        "/",
        "/api/alarms",
        "/metrics",
        "/assets/console.js",
        "/metric/app.web.requests",
    ] {
        let (status, text) = http_get(stack.port, path, &[]).unwrap();
        assert_eq!(status, 401, "{path}: {text}");
        assert!(
            text.contains("WWW-Authenticate: Basic") || text.contains("www-authenticate: Basic"),
            "{text}"
        );
        assert!(!text.contains(ANOMALOUS), "{path} leaks data: {text}");
    }
    let (status, _) = http_get(
        stack.port,
        "/api/alarms",
        &[("Authorization", "Basic b3BzOndyb25n")],
    )
    .unwrap();
    assert_eq!(status, 401);
    let (status, body) = http_get(
        stack.port,
        "/api/alarms",
        &[("Authorization", "Basic b3BzOnMzY3JldA==")],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(ANOMALOUS));
    let (_, metrics) = http_get(
        stack.port,
        "/metrics",
        &[("Authorization", "Basic b3BzOnMzY3JldA==")],
    )
    .unwrap();
    assert!(
        metrics.contains("am_console_unauthorized_total 6"),
        "{metrics}"
    );
    // A browser given the credentials in the URL sees the page.
    let browser = Browser::start().await.unwrap();
    browser
        .goto(&format!("http://ops:s3cret@127.0.0.1:{}/", stack.port))
        .await
        .unwrap();
    let h1 = browser
        .eval(
            "return document.querySelector('h1')?.textContent ?? null;",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(h1, json!("Alarms"));
    browser.close().await.unwrap();
}

/// On a metric's page: the ranges (day, all the retention holds), zooming by dragging across
/// the plot, and clicking a time to correlate there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plot_zooms_by_dragging_and_correlates_where_clicked() {
    let stack = Stack::start(json!({})).await.unwrap();
    let browser = Browser::start().await.unwrap();
    let page = stack.url(&format!("/metric/{ANOMALOUS}"));
    for range in ["day", "all"] {
        browser
            .goto(&format!("{page}?range={range}"))
            .await
            .unwrap();
        let shown = browser
            .eval(
                r#"return { here: document.querySelector('nav.ranges a.here')?.textContent ?? null,
                            from: Number(document.getElementById('plot').dataset.from),
                            until: Number(document.getElementById('plot').dataset.until) };"#,
                Vec::new(),
            )
            .await
            .unwrap();
        let span = shown["until"].as_i64().unwrap() - shown["from"].as_i64().unwrap();
        let want = if range == "day" {
            86_400
        } else {
            86_400 + 14_400
        };
        assert_eq!(span, want, "{range}: {shown}");
    }
    browser.goto(&page).await.unwrap();
    // Drag from a quarter to a half of the plotting area.
    let dragged = browser
        .eval(
            r#"const fig = document.getElementById('plot'), svg = fig.querySelector('svg');
               const r = svg.getBoundingClientRect(), scale = r.width / Number(fig.dataset.width);
               const left = Number(fig.dataset.left), right = Number(fig.dataset.right);
               const x = f => r.left + (left + f * (right - left)) * scale, y = r.top + r.height / 2;
               svg.dispatchEvent(new MouseEvent('mousedown', { clientX: x(0.25), clientY: y, bubbles: true }));
               svg.dispatchEvent(new MouseEvent('mousemove', { clientX: x(0.4), clientY: y, bubbles: true }));
               window.dispatchEvent(new MouseEvent('mouseup', { clientX: x(0.5), clientY: y, bubbles: true }));
               return { from: Number(fig.dataset.from), until: Number(fig.dataset.until) };"#,
            Vec::new(),
        )
        .await
        .unwrap();
    let zoomed = browser
        .wait_for(
            "the zoomed page",
            r#"const p = new URLSearchParams(location.search);
               const fig = document.getElementById('plot');
               return p.get('from') && fig && fig.dataset.from === p.get('from')
                 ? { from: Number(p.get('from')), until: Number(p.get('until')),
                     here: document.querySelector('nav.ranges span.here')?.textContent ?? null }
                 : null;"#,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let (f0, u0) = (
        dragged["from"].as_i64().unwrap(),
        dragged["until"].as_i64().unwrap(),
    );
    let (f1, u1) = (
        zoomed["from"].as_i64().unwrap(),
        zoomed["until"].as_i64().unwrap(),
    );
    let quarter = f0 + (u0 - f0) / 4;
    let half = f0 + (u0 - f0) / 2;
    assert!(
        (f1 - quarter).abs() <= 30 && (u1 - half).abs() <= 30,
        "{dragged} -> {zoomed}"
    );
    assert!(
        zoomed["here"].as_str().unwrap().starts_with("zoomed"),
        "{zoomed}"
    );
    browser.screenshot("metric-zoomed").await.unwrap();
    // A click (no drag) picks the anomaly's time: the correlation runs again there.
    browser
        .wait_for(
            "the first correlation",
            "return document.getElementById('correlate').dataset.state === 'done';",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    browser
        .eval(
            r#"const fig = document.getElementById('plot'), svg = fig.querySelector('svg');
               const r = svg.getBoundingClientRect(), scale = r.width / Number(fig.dataset.width);
               const left = Number(fig.dataset.left), right = Number(fig.dataset.right);
               const x = r.left + (left + 0.5 * (right - left)) * scale, y = r.top + r.height / 2;
               svg.dispatchEvent(new MouseEvent('mousedown', { clientX: x, clientY: y, bubbles: true }));
               window.dispatchEvent(new MouseEvent('mouseup', { clientX: x, clientY: y, bubbles: true }));
               return true;"#,
            Vec::new(),
        )
        .await
        .unwrap();
    let again = browser
        .wait_for(
            "the correlation at the clicked time",
            r#"const c = document.getElementById('correlate');
               return c.dataset.state === 'done' && c.dataset.src.includes('&at=')
                 ? { at: Number(new URLSearchParams(c.dataset.src.split('?')[1]).get('at')),
                     label: document.getElementById('correlate-at').textContent,
                     first: c.querySelector('ol.correlated li')?.dataset.metric ?? null }
                 : null;"#,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let at = again["at"].as_i64().unwrap();
    assert!(
        (at - (f1 + u1) / 2).abs() <= 30,
        "clicked the middle of {f1}..{u1}, got {again}"
    );
    assert!(
        again["label"].as_str().unwrap().contains("clicked"),
        "{again}"
    );
    browser.screenshot("metric-clicked").await.unwrap();
    browser.close().await.unwrap();
}
