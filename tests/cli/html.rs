//! `promptctl eval --base --format html`: the page's data and figures equal
//! the JSON report's, and the page renders in a headless browser without a
//! console error or a blocked fetch.
//!
//! The browser is `$PROMPTCTL_CHROMIUM`, else google-chrome or chromium on
//! PATH. Without one the browser tests say they skipped, unless
//! `PROMPTCTL_REQUIRE_BROWSER=1` (CI), where they fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use crate::env::*;

const PROMPT_V1: &str = "---\nmodel: openai:gpt-4o-mini\nconfig:\n  max_tokens: 200\n---\nsystem:\nAnswer the customer briefly.\n\nuser:\n{{ message }}\n";

/// The echo provider answers with the user message: the added line makes
/// every head answer longer, and `login`'s too long for its assertion.
fn repo(env: &TestEnv) {
    env.git_init();
    env.write(
        "promptctl.toml",
        "[traffic.requests_per_day]\n\"support/reply\" = 1000\n\n[eval.gates]\nmax_output_tokens_increase_pct = 10\n",
    );
    env.write("prompts/support/reply.prompt", PROMPT_V1);
    env.write(
        "evals/support/reply.yaml",
        "prompt: support/reply\ncases:\n  - name: billing\n    vars: {message: Where is my invoice?}\n    assert:\n      - {type: contains, value: invoice}\n  - name: login\n    vars: {message: \"</script><script>alert(1)</script> I cannot log in.\"}\n    assert:\n      - {type: max-chars, value: 60}\n",
    );
    env.write(".gitignore", ".promptctl/\n");
    env.commit_all("v1");
    env.write(
        "prompts/support/reply.prompt",
        &PROMPT_V1.replace("{{ message }}", "Please answer in full detail.\n{{ message }}"),
    );
    // A prompt the base does not have: a head-only comparison.
    env.write("prompts/support/new.prompt", PROMPT_V1);
    env.write(
        "evals/support/new.yaml",
        "prompt: support/new\ncases:\n  - name: one\n    vars: {message: hi}\n",
    );
}

fn compare(env: &TestEnv, format: &str) -> std::process::Output {
    env.run(&["eval", "--base", "HEAD", "--provider", "echo", "--format", format])
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn attr(e: &ElementRef, name: &str) -> Option<f64> {
    e.value().attr(name).map(|v| v.parse().unwrap())
}

/// The number a cell or label shows, scaled back to the JSON's unit, and
/// the half-unit of its last digit.
fn shown(text: &str, metric: &str) -> Option<(f64, f64)> {
    if text == "–" {
        return None;
    }
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | '-'))
        .collect();
    let v: f64 = digits.parse().unwrap_or_else(|_| panic!("{text:?} shows no number"));
    let decimals = digits.split_once('.').map_or(0, |(_, d)| d.len());
    let scale = if matches!(metric, "pass_rate" | "truncated_share") {
        100.0
    } else {
        1.0
    };
    Some((v / scale, 0.5 * 10f64.powi(-(decimals as i32)) / scale + 1e-12))
}

fn assert_shows(text: &str, metric: &str, json: &Value) {
    match shown(text, metric) {
        None => assert!(json.is_null(), "{metric}: shows – for {json}"),
        Some((v, tol)) => {
            let j = json
                .as_f64()
                .unwrap_or_else(|| panic!("{metric}: shows {text} for {json}"));
            assert!((v - j).abs() <= tol, "{metric}: shows {text}, JSON has {j}");
        }
    }
}

fn text(e: &ElementRef) -> String {
    e.text().collect::<String>()
}

#[test]
fn the_html_report_shows_the_json_reports_figures() {
    let env = TestEnv::new();
    repo(&env);
    let out = compare(&env, "json");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = json(&out);
    let out = compare(&env, "html");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    let doc = Html::parse_document(&page);

    // The embedded data is the JSON report.
    let data = doc.select(&sel("script#promptctl-data")).next().unwrap();
    let embedded: Value = serde_json::from_str(&text(&data)).unwrap();
    assert_eq!(embedded, j);

    // Answers are text, not markup: the page has its own two scripts only.
    assert_eq!(doc.select(&sel("script")).count(), 2);
    assert!(!page.contains("<script>alert(1)"));

    let header = doc.select(&sel("header.verdict")).next().unwrap();
    assert_eq!(header.value().attr("data-passed"), Some("false"));
    assert!(text(&header).contains("FAIL: 1 gate broken"), "{}", text(&header));

    let comparisons = j["comparisons"].as_array().unwrap();
    let sections: Vec<ElementRef> = doc.select(&sel("section.comparison")).collect();
    assert_eq!(comparisons.len(), 2);
    assert_eq!(sections.len(), comparisons.len());
    for (c, s) in comparisons.iter().zip(&sections) {
        assert_eq!(s.value().attr("data-prompt"), c["prompt"].as_str());
        // Table: a row per measured metric, its figures as shown and exact.
        let measured: Vec<&Value> = c["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| !d["base"].is_null() || !d["head"].is_null())
            .collect();
        let rows: Vec<ElementRef> = s.select(&sel("table.deltas tbody tr")).collect();
        assert_eq!(rows.len(), measured.len());
        for (d, row) in measured.iter().zip(&rows) {
            let m = d["metric"].as_str().unwrap();
            assert_eq!(row.value().attr("data-metric"), Some(m));
            for side in ["base", "head"] {
                assert_eq!(attr(row, &format!("data-{side}")), d[side].as_f64(), "{m} {side}");
                let cell = row.select(&sel(&format!("td.{side}"))).next().unwrap();
                assert_shows(&text(&cell), m, &d[side]);
            }
            assert_eq!(attr(row, "data-pct"), d["pct"].as_f64(), "{m}");
        }
        // Bars: each side's value, or a note saying why there is none.
        for m in ["cost_per_1k_usd", "output_tokens_mean"] {
            for side in ["base", "head"] {
                let v = &c[side][m];
                let q = format!("[data-metric=\"{m}\"][data-side=\"{side}\"]");
                let bar = s.select(&sel(&format!("svg rect.bar{q}"))).next();
                match v.as_f64() {
                    Some(v) => {
                        let bar = bar.unwrap_or_else(|| panic!("no {side} bar for {m}"));
                        assert_eq!(attr(&bar, "data-value"), Some(v));
                        let label = bar.next_siblings().filter_map(ElementRef::wrap).next().unwrap();
                        assert_eq!(label.value().attr("class"), Some("value"));
                        assert_shows(&text(&label), m, &Value::from(v));
                    }
                    None => {
                        assert!(bar.is_none(), "{side} {m} drawn without a value");
                        let note = s.select(&sel(&format!("svg text.missing{q}"))).next().unwrap();
                        assert_eq!(text(&note), "not at the base revision");
                    }
                }
            }
        }
        // Cases in the data's order, flipped first.
        let cases: Vec<&str> = s
            .select(&sel("details.case"))
            .map(|d| d.value().attr("data-case").unwrap())
            .collect();
        let listed: Vec<&str> = c["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["case"].as_str().unwrap())
            .collect();
        assert_eq!(cases, listed);
    }
    let at = |prompt: &str| comparisons.iter().position(|c| c["prompt"] == prompt).unwrap();
    let (reply, new) = (at("support/reply"), at("support/new"));
    assert!(comparisons[new]["base"].is_null());
    let reply_section = &sections[reply];
    let reply = &comparisons[reply];
    assert_eq!(reply["cases"][0]["case"], "login");
    assert_eq!(reply["cases"][0]["flipped"], true);
    assert_eq!(reply["cases"][0]["base"]["status"], "pass");
    assert_eq!(reply["cases"][0]["head"]["status"], "fail");
    let login = reply_section.select(&sel("details.case.flipped")).next().unwrap();
    assert_eq!(login.value().attr("data-case"), Some("login"));
    let head = login.select(&sel(".answer.head pre")).next().unwrap();
    assert_eq!(
        text(&head),
        reply["cases"][0]["head"]["output"].as_str().unwrap(),
        "the answer as text"
    );
    let inserted: String = head.select(&sel("ins")).map(|e| text(&e)).collect();
    assert!(inserted.contains("Please answer in full detail."), "{inserted}");

    // Modes other than --base still refuse html.
    let out = env.run(&["eval", "--provider", "echo", "--format", "html"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("`eval` has no html output"), "{}", stderr(&out));
}

// --- The headless browser ------------------------------------------------------

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The browser to test with; None (after saying so) when there is none and
/// none is required.
fn browser() -> Option<PathBuf> {
    let found = std::env::var_os("PROMPTCTL_CHROMIUM").map(PathBuf::from).or_else(|| {
        ["google-chrome", "google-chrome-stable", "chromium", "chromium-browser"]
            .iter()
            .find_map(|n| on_path(n))
    });
    if found.is_none() {
        assert!(
            std::env::var("PROMPTCTL_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "PROMPTCTL_REQUIRE_BROWSER=1 but no browser: set PROMPTCTL_CHROMIUM or install chromium"
        );
        // Past the test harness's capture, so a passing run shows it too.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no headless browser (PROMPTCTL_CHROMIUM, google-chrome, chromium)"
        );
    }
    found
}

/// What the browser made of a page: the DOM after its scripts ran, and
/// its log.
struct Rendered {
    dom: String,
    log: String,
}

fn render(browser: &Path, page: &Path) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    // Read both pipes while waiting, so neither fills up.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let dom = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("{} did not finish rendering in 60s", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Rendered {
        dom: dom.join().unwrap(),
        log: log.join().unwrap(),
    }
}

/// Everything wrong with a rendering: the page's own check not "ok", and
/// each console message or blocked load in the browser's log. Chromium logs
/// a page's console as `[...:INFO:CONSOLE:5] "Uncaught ReferenceError: …",
/// source: file:///….html (5)`; a fetch the CSP blocks as a console line
/// `"… violates the following Content Security Policy directive …"`. The
/// page logs nothing itself, so any console line is a problem.
fn problems(r: &Rendered) -> Vec<String> {
    let mut out: Vec<String> = r
        .log
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .map(str::to_string)
        .collect();
    let doc = Html::parse_document(&r.dom);
    let check = doc
        .select(&sel("html"))
        .next()
        .and_then(|h| h.value().attr("data-check").map(str::to_string));
    if check.as_deref() != Some("ok") {
        out.push(format!("data-check: {check:?}"));
    }
    out
}

#[test]
fn the_html_report_renders_in_a_browser_and_passes_its_own_check() {
    let Some(browser) = browser() else { return };
    let env = TestEnv::new();
    repo(&env);
    let out = compare(&env, "html");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let page = env.path().join("report.html");
    std::fs::write(&page, &out.stdout).unwrap();
    let r = render(&browser, &page);
    assert_eq!(problems(&r), Vec::<String>::new(), "browser log:\n{}", r.log);
    // The browser ran the page's check and kept the answers as text.
    assert!(r.dom.contains("data-check=\"ok\""));
    assert!(r.dom.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));

    // The check can fail: a row removed from a table is noticed.
    let html = stdout(&out);
    let start = html.find("<tr data-metric=\"input_tokens_mean\"").unwrap();
    let end = start + html[start..].find("</tr>").unwrap() + "</tr>".len();
    let tampered = env.path().join("tampered.html");
    std::fs::write(&tampered, format!("{}{}", &html[..start], &html[end..])).unwrap();
    let p = problems(&render(&browser, &tampered));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("table rows"), "{p:?}");
}

#[test]
fn the_browser_check_catches_script_errors_and_blocked_fetches() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">";
    let page = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\">{csp}<title>t</title></head><body>{body}</body></html>"),
        )
        .unwrap();
        p
    };
    let ok = "<script>document.documentElement.dataset.check = \"ok\";</script>";
    let clean = render(&browser, &page("clean.html", ok));
    assert_eq!(problems(&clean), Vec::<String>::new(), "{}", clean.log);

    // The check passed, but a later script threw.
    let broken = render(
        &browser,
        &page("broken.html", &format!("{ok}<script>notDefined();</script>")),
    );
    let p = problems(&broken);
    assert!(
        p.iter().any(|l| l.contains("Uncaught ReferenceError")),
        "{p:?}\n{}",
        broken.log
    );

    // A fetch the CSP blocks.
    let fetch = render(
        &browser,
        &page("fetch.html", &format!("<img src=\"http://192.0.2.1/x.png\">{ok}")),
    );
    let p = problems(&fetch);
    assert!(
        p.iter().any(|l| l.contains("Content Security Policy")),
        "{p:?}\n{}",
        fetch.log
    );

    // No check at all.
    let p = problems(&render(&browser, &page("unchecked.html", "<p>hi</p>")));
    assert_eq!(p, ["data-check: None"]);
}
