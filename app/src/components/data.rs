//! Pieces the organization pages share: error views, status badges, the calls chart and
//! table.

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::guard::SignInRedirect;
use crate::errors::AppError;
use crate::org::CallRow;
use crate::text::{parse_day, push_day, push_digits, push_padded};

/// Shows an error in place of a page's content. Not found (also: another organization's
/// id) answers 404 during SSR, exactly like an id that does not exist. A session that
/// ended (401) goes to sign in, back to this page afterwards.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    if matches!(error, AppError::Unauthorized) {
        return view! { <SignInRedirect/> }.into_any();
    }
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(error.status_code()) {
                response.set_status(status);
            }
        }
    }
    let title = match error {
        AppError::NotFound => "Not found",
        AppError::Forbidden => "Not allowed",
        AppError::Unavailable => "Temporarily unavailable",
        _ => "Something went wrong",
    };
    view! {
        <section class="error-page">
            <h1>{title}</h1>
            <p role="alert">{error.to_string()}</p>
            <a href="/dashboard">"Back to the dashboard"</a>
        </section>
    }
    .into_any()
}

#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = badge_class(&status);
    view! { <span class=class>{status}</span> }
}

/// What a status badge's classes start with; the status follows.
const BADGE_CLASS_PREFIX: &str = "badge badge-";

/// The classes of a status's badge, shared by [`StatusBadge`] and [`CallRows`].
pub fn badge_class(status: &str) -> String {
    [BADGE_CLASS_PREFIX, status].concat()
}

/// `4:05` for 245 seconds.
pub fn duration_text(seconds: i32) -> String {
    let mut text = String::new();
    push_duration(&mut text, seconds);
    text
}

pub fn push_duration(out: &mut String, seconds: i32) {
    if seconds < 0 {
        out.push('-');
    }
    let seconds = seconds.unsigned_abs();
    push_digits(out, u64::from(seconds / 60));
    out.push(':');
    push_padded(out, u64::from(seconds % 60), 2);
}

/// The calls table used by the calls page (the dashboard writes the same markup with
/// [`CallRows::write_table`]). Its rows are rendered as markup ([`CallRows`]), like the
/// chart: as views, 25 rows of seven cells were built twice per request during SSR (once
/// when Suspense resolves, once to write HTML) and were the part of a calls page's CPU
/// that grew with its length (see the README, "Measured"). The links are plain anchors,
/// which the router navigates without a reload.
#[component]
pub fn CallsTable(rows: CallRows) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">{NO_CALLS}</p> }.into_any();
    }
    view! {
        <table class="table">
            <thead inner_html=CALLS_TABLE_HEAD></thead>
            <tbody inner_html=rows.0></tbody>
        </table>
    }
    .into_any()
}

/// What a list of calls says when it is empty.
const NO_CALLS: &str = "No calls match.";

/// The head row of every calls table.
const CALLS_TABLE_HEAD: &str = concat!(
    "<tr>",
    r#"<th scope="col">Started</th>"#,
    r#"<th scope="col">Agent</th>"#,
    r#"<th scope="col">Direction</th>"#,
    r#"<th scope="col">From</th>"#,
    r#"<th scope="col">Status</th>"#,
    r#"<th scope="col">Duration</th>"#,
    r#"<th scope="col">Summary</th>"#,
    "</tr>"
);

/// The `<tr>` of each call of a list, every text escaped: made once per list (a page keeps
/// it in a memo), since the view that shows it runs on each of Suspense's passes during
/// SSR (three per dashboard request, where this markup was 12% of the server's
/// instructions; see the README, "Measured").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRows(Arc<str>);

impl CallRows {
    pub fn new(calls: &[CallRow]) -> Self {
        let mut out = String::with_capacity(calls.iter().map(|c| 360 + c.summary.len()).sum());
        for call in calls {
            out.push_str("<tr data-testid=\"call-row\"><td><a href=\"/calls/");
            // A UUID's text needs no escaping.
            out.push_str(
                call.id
                    .as_hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            );
            out.push_str("\">");
            escape_into(&mut out, &call.started_at);
            out.push_str("</a></td><td>");
            escape_into(&mut out, call.agent_name.as_deref().unwrap_or("—"));
            out.push_str("</td><td>");
            escape_into(&mut out, &call.direction);
            out.push_str("</td><td>");
            escape_into(&mut out, &call.from_number);
            out.push_str("</td><td><span class=\"");
            // `badge_class`, with the status escaped.
            out.push_str(BADGE_CLASS_PREFIX);
            escape_into(&mut out, &call.status);
            out.push_str("\">");
            escape_into(&mut out, &call.status);
            out.push_str("</span></td><td>");
            push_duration(&mut out, call.duration_seconds);
            out.push_str("</td><td class=\"summary\">");
            escape_into(&mut out, &call.summary);
            out.push_str("</td></tr>");
        }
        Self(out.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length of the rows' markup, in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends what [`CallsTable`] renders for these rows.
    pub fn write_table(&self, out: &mut String) {
        if self.is_empty() {
            out.push_str(r#"<p class="empty">"#);
            out.push_str(NO_CALLS);
            out.push_str("</p>");
            return;
        }
        out.push_str(r#"<table class="table"><thead>"#);
        out.push_str(CALLS_TABLE_HEAD);
        out.push_str("</thead><tbody>");
        out.push_str(&self.0);
        out.push_str("</tbody></table>");
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as [`escape_html`] does. The characters it replaces
/// are ASCII, so it copies the runs between them whole instead of pushing each character
/// (which made escaping 6.5% of a dashboard request's server instructions).
pub fn escape_into(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Appends `value` in decimal. The chart writes 150 numbers per dashboard; with `write!`
/// they were most of its cost (6% of a dashboard request's server instructions).
pub fn push_int(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_digits(out, value.unsigned_abs());
}

/// Writes a length kept in tenths of a unit (`163` -> `16.3`).
fn push_tenths(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let value = value.unsigned_abs();
    push_digits(out, value / 10);
    out.push('.');
    push_digits(out, value % 10);
}

/// The calls-per-day chart, ready to render: its text alternative and the SVG markup of
/// its bars, axis and ticks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    pub label: String,
    pub markup: Arc<str>,
}

/// Width and height of the chart's plot area (the viewBox adds room for the ticks).
const CHART_WIDTH: i64 = 600;
const CHART_HEIGHT: i64 = 160;

impl Chart {
    /// Lays out `per_day`, the calls of each day from `first_day` (`YYYY-MM-DD`) on, as
    /// bars. Built once per dashboard and rendered as markup: as a view of 30 bars it was
    /// rebuilt on every pass Suspense makes during SSR, a fifth of a dashboard request's
    /// CPU. The geometry is integer tenths (formatting floats was most of that cost) and
    /// the days are written from their count (`text::push_day`). A `first_day` that is not
    /// a date leaves the bars without their days.
    pub fn new(first_day: &str, per_day: &[i64]) -> Self {
        use std::fmt::Write;
        let first_day = parse_day(first_day);
        let (width, height) = (CHART_WIDTH * 10, CHART_HEIGHT * 10);
        let max = per_day.iter().copied().max().unwrap_or(0).max(1);
        let total: i64 = per_day.iter().sum();
        let slot = width / (per_day.len().max(1) as i64);
        let label = format!(
            "Calls per day over the last {} days: {} in total, at most {} in one day.",
            per_day.len(),
            total,
            max
        );
        let mut out = String::with_capacity(120 * per_day.len() + 300);
        for (i, n) in (0_i64..).zip(per_day) {
            // Rounded to the nearest tenth; 0 <= n <= max, so 0 <= h <= height.
            let h = ((*n).max(0) * height + max / 2) / max;
            out.push_str("<rect class=\"bar\" x=\"");
            push_tenths(&mut out, i * slot + 10);
            out.push_str("\" y=\"");
            push_tenths(&mut out, height - h);
            out.push_str("\" width=\"");
            push_tenths(&mut out, (slot - 20).max(10));
            out.push_str("\" height=\"");
            push_tenths(&mut out, h);
            out.push_str("\"><title>");
            if let Some(first_day) = first_day {
                push_day(&mut out, first_day + i);
                out.push_str(": ");
            }
            push_int(&mut out, *n);
            out.push_str(" calls</title></rect>");
        }
        let _ = write!(
            out,
            "<line x1=\"0\" y1=\"{CHART_HEIGHT}\" x2=\"{CHART_WIDTH}\" y2=\"{CHART_HEIGHT}\" class=\"axis\"></line>"
        );
        let tick_y = CHART_HEIGHT + 16;
        if let (Some(first_day), false) = (first_day, per_day.is_empty()) {
            let _ = write!(out, "<text x=\"0\" y=\"{tick_y}\" class=\"tick\">");
            push_day(&mut out, first_day);
            let _ = write!(
                out,
                "</text><text x=\"{CHART_WIDTH}\" y=\"{tick_y}\" text-anchor=\"end\" class=\"tick\">"
            );
            push_day(&mut out, first_day + per_day.len() as i64 - 1);
            out.push_str("</text>");
        }
        Self {
            label,
            markup: out.into(),
        }
    }

    /// Appends the chart as a figure: calls per day as bars, drawn on the server as SVG
    /// (readable without JavaScript), with its text alternative as label and caption.
    pub fn write_figure(&self, out: &mut String) {
        out.push_str(r#"<figure class="chart"><svg viewBox="0 0 "#);
        push_int(out, CHART_WIDTH);
        out.push(' ');
        push_int(out, CHART_HEIGHT + 20);
        out.push_str(r#"" role="img" aria-label=""#);
        escape_into(out, &self.label);
        out.push_str(r#"" data-testid="calls-chart">"#);
        out.push_str(&self.markup);
        out.push_str("</svg><figcaption>");
        escape_into(out, &self.label);
        out.push_str("</figcaption></figure>");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An answered call of one minute, as the calls tables' tests show it.
    pub(crate) fn answered_call(summary: &str) -> CallRow {
        CallRow {
            id: uuid::Uuid::nil(),
            agent_name: Some("Front desk".to_owned()),
            direction: "inbound".to_owned(),
            from_number: "+1 555 0100".to_owned(),
            started_at: "2026-11-02 09:05 UTC".to_owned(),
            duration_seconds: 61,
            status: "completed".to_owned(),
            summary: summary.to_owned(),
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<script>x</script> & \"q\" 'a'"),
            "&lt;script&gt;x&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39;"
        );
    }

    #[test]
    fn durations_are_minutes_and_two_digit_seconds() {
        for (seconds, text) in [
            (0, "0:00"),
            (5, "0:05"),
            (245, "4:05"),
            (3600, "60:00"),
            (-65, "-1:05"),
        ] {
            assert_eq!(duration_text(seconds), text);
        }
        assert_eq!(badge_class("missed"), "badge badge-missed");
    }

    #[test]
    fn numbers_are_written_in_full() {
        let mut out = String::new();
        for n in [0, 7, 10, 1234567890, -45, i64::MIN, i64::MAX] {
            push_int(&mut out, n);
            out.push(' ');
        }
        assert_eq!(
            out,
            format!("0 7 10 1234567890 -45 {} {} ", i64::MIN, i64::MAX)
        );
        let mut out = String::new();
        for n in [0, 9, 163, 1600, -5, -163] {
            push_tenths(&mut out, n);
            out.push(' ');
        }
        assert_eq!(out, "0.0 0.9 16.3 160.0 -0.5 -16.3 ");
    }

    #[test]
    fn escaping_keeps_every_other_character_and_appends() {
        let mut out = "kept: ".to_owned();
        escape_into(&mut out, "é<ü>—\"日本'&&");
        assert_eq!(out, "kept: é&lt;ü&gt;—&quot;日本&#39;&amp;&amp;");
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("plain — text"), "plain — text");
    }

    #[test]
    fn call_rows_link_each_call_and_escape_every_text() {
        let call = CallRow {
            id: uuid::Uuid::nil(),
            agent_name: None,
            direction: "inbound".to_owned(),
            from_number: "+1 <555>".to_owned(),
            started_at: "2026-11-01 09:05 UTC".to_owned(),
            duration_seconds: 125,
            status: "completed\" onclick=\"x".to_owned(),
            summary: "Asked about <script>alert(1)</script> & more".to_owned(),
        };
        let markup = CallRows::new(&[call.clone(), call]).0;
        assert_eq!(markup.matches(r#"<tr data-testid="call-row">"#).count(), 2);
        assert!(markup.contains(
            r#"<a href="/calls/00000000-0000-0000-0000-000000000000">2026-11-01 09:05 UTC</a>"#
        ));
        assert!(markup.contains("<td>—</td><td>inbound</td><td>+1 &lt;555&gt;</td>"));
        assert!(markup.contains(r#"class="badge badge-completed&quot; onclick=&quot;x""#));
        assert!(markup.contains("<td>2:05</td>"));
        assert!(markup.contains("Asked about &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!markup.contains("<script>") && !markup.contains("\" onclick"));
    }

    #[test]
    fn the_calls_table_view_and_its_markup_are_the_same_html() {
        for rows in [
            CallRows::new(&[answered_call("Booked a table")]),
            CallRows::default(),
        ] {
            let mut written = String::new();
            rows.write_table(&mut written);
            // The view's HTML carries Leptos's hydration markers (`<!>`); the same otherwise.
            let rendered = CallsTable(CallsTableProps { rows }).to_html();
            assert_eq!(rendered.replace("<!>", ""), written);
        }
    }

    #[test]
    fn the_chart_scales_bars_to_the_busiest_day() {
        let chart = Chart::new("2026-11-01", &[5, 10, 0]);
        assert_eq!(
            chart.label,
            "Calls per day over the last 3 days: 15 in total, at most 10 in one day."
        );
        // 600 wide / 3 days = 200 per slot; the busiest day is full height (160).
        assert!(chart.markup.contains(r#"<rect class="bar" x="1.0" y="80.0" width="198.0" height="80.0"><title>2026-11-01: 5 calls</title></rect>"#));
        assert!(chart
            .markup
            .contains(r#"x="201.0" y="0.0" width="198.0" height="160.0""#));
        assert!(chart
            .markup
            .contains(r#"x="401.0" y="160.0" width="198.0" height="0.0""#));
        assert!(chart.markup.ends_with(
            r#"<text x="0" y="176" class="tick">2026-11-01</text><text x="600" y="176" text-anchor="end" class="tick">2026-11-03</text>"#
        ));
    }

    #[test]
    fn the_charts_days_run_across_months_and_years() {
        let chart = Chart::new("2026-12-30", &[1, 2, 3, 4]);
        for title in [
            "<title>2026-12-30: 1 calls</title>",
            "<title>2026-12-31: 2 calls</title>",
            "<title>2027-01-01: 3 calls</title>",
            "<title>2027-01-02: 4 calls</title>",
        ] {
            assert!(chart.markup.contains(title), "{title} in {}", chart.markup);
        }
        let leap = Chart::new("2028-02-28", &[1, 1]);
        assert!(
            leap.markup.contains(">2028-02-29</text>"),
            "{}",
            leap.markup
        );
    }

    #[test]
    fn a_first_day_that_is_not_a_date_is_not_written_and_no_data_draws_an_axis() {
        let chart = Chart::new("<b>2026-11-01", &[1]);
        assert!(chart.markup.contains("<title>1 calls</title>"));
        assert!(!chart.markup.contains("<b>") && !chart.markup.contains("class=\"tick\""));
        let empty = Chart::new("2026-11-01", &[]);
        assert!(empty.markup.starts_with("<line"));
        assert!(!empty.markup.contains("2026"));
        assert!(empty.label.contains("0 in total"));
    }
}
