//! The first signed-in page: the organization at a glance.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::data::{push_duration, push_int, CallRows, Chart, ErrorView};
use crate::components::guard::RequireAuth;
use crate::org::api::dashboard_data;
use crate::org::Dashboard;
use crate::providers::auth::use_auth;
use crate::resource::{data, Data};

/// The dashboard's data, requested as soon as the route matches: in the browser, while the
/// page's own WASM module is still downloading (see `routes::DashboardRoute`), not after.
/// Also outside the guard: Suspense walks its children more than once during SSR, and a
/// resource made in there would be made (and fetched) again on every walk. Only the
/// resource: what `routes::DashboardRoute::data` reaches is in the main WASM module.
pub fn load() -> Data<Dashboard> {
    data(|| (), |_| dashboard_data())
}

#[component]
pub fn DashboardPage(data: Data<Dashboard>) -> impl IntoView {
    // Written once per dashboard value, not on each of Suspense's passes over the view.
    let body = Memo::new(move |_| {
        data.with(|d| match d {
            Some(Ok(d)) => body_html(d),
            _ => Arc::default(),
        })
    });
    view! {
        <Title text="Dashboard"/>
        <RequireAuth>
            <DashboardContent data body/>
        </RequireAuth>
    }
}

#[component]
fn DashboardContent(data: Data<Dashboard>, body: Memo<Arc<str>>) -> impl IntoView {
    let auth = use_auth();
    // Borrows the dashboard: this runs on each of Suspense's passes, and what it shows
    // beyond the markup in `body` is the organization's name and who is signed in.
    view! {
            {move || data.with(|result| result.as_ref().map(|result| match result {
                Err(error) => view! { <ErrorView error=error.clone()/> }.into_any(),
                Ok(d) => {
                    // Not `get`: see `Auth::with_user` (a late pass after the memo is gone).
                    let body = body.try_get().unwrap_or_default();
                    view! {
                    <section aria-labelledby="dashboard-title">
                        <h1 id="dashboard-title" data-testid="organization-name">{d.organization_name.clone()}</h1>
                        <p class="muted">
                            "Signed in as " <span data-testid="user-email">{move || auth.with_user(|u| u.email.clone()).unwrap_or_default()}</span>
                            " · " {move || auth.with_user(|u| u.role.clone()).flatten().unwrap_or_default()}
                        </p>
                        <div class="dashboard-body" inner_html=body></div>
                    </section>
                    }.into_any()
                }
            }))}
    }
}

/// Everything the dashboard shows under its title, as HTML: the five figures, the chart,
/// the latest calls and the links on. Written once per dashboard value and kept in a memo,
/// as the chart and the rows were before it: as a view, this part was built again on each
/// of Suspense's passes during SSR (2.7 a page, ~65,000 instructions; see the README,
/// "Measured"). Its only texts from the data are escaped by the chart and the rows; the
/// figures are numbers.
fn body_html(d: &Dashboard) -> Arc<str> {
    let chart = Chart::new(&d.first_day, &d.per_day);
    let rows = CallRows::new(&d.latest);
    let mut out = String::with_capacity(1_500 + chart.markup.len() + rows.len());
    out.push_str(r#"<div class="stats">"#);
    push_stat(&mut out, Some("stat-agents"), "Agents", |out| {
        push_int(out, d.agents)
    });
    push_stat(
        &mut out,
        Some("stat-calls-24h"),
        "Calls, last 24 h",
        |out| push_int(out, d.calls_24h),
    );
    push_stat(
        &mut out,
        Some("stat-calls-7d"),
        "Calls, last 7 days",
        |out| push_int(out, d.calls_7d),
    );
    push_stat(&mut out, None, "Average answered call, 7 days", |out| {
        push_duration(out, d.avg_duration_7d.round() as i32)
    });
    push_stat(&mut out, None, "Answer rate, 7 days", |out| {
        // One float per dashboard: `format!` is fine here.
        out.push_str(&format!("{:.1} %", d.answer_rate_7d))
    });
    out.push_str("</div><h2>Calls per day, last 30 days</h2>");
    chart.write_figure(&mut out);
    out.push_str("<h2>Latest calls</h2>");
    rows.write_table(&mut out);
    out.push_str(r#"<p><a href="/calls">All calls</a> · <a href="/agents">Agents</a></p>"#);
    out.into()
}

/// Appends one of the dashboard's figures: its value, written by `value`, over its label.
fn push_stat(
    out: &mut String,
    test_id: Option<&str>,
    label: &str,
    value: impl FnOnce(&mut String),
) {
    out.push_str(r#"<div class="stat"><span class="stat-value""#);
    if let Some(test_id) = test_id {
        out.push_str(r#" data-testid=""#);
        out.push_str(test_id);
        out.push('"');
    }
    out.push('>');
    value(out);
    out.push_str(r#"</span><span class="stat-label">"#);
    out.push_str(label);
    out.push_str("</span></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::data::tests::answered_call;
    use crate::org::CallRow;

    fn dashboard(latest: Vec<CallRow>) -> Dashboard {
        Dashboard {
            organization_name: "Acme <Phones>".to_owned(),
            agents: 3,
            calls_24h: 12,
            calls_7d: -1,
            avg_duration_7d: 125.4,
            answer_rate_7d: 87.24,
            first_day: "2026-11-01".to_owned(),
            per_day: vec![4, 8],
            latest,
        }
    }

    #[test]
    fn the_body_shows_each_figure_the_chart_and_the_latest_calls() {
        let html = body_html(&dashboard(vec![answered_call("Booked a <b>table</b>")]));
        for figure in [
            r#"<span class="stat-value" data-testid="stat-agents">3</span><span class="stat-label">Agents</span>"#,
            r#"data-testid="stat-calls-24h">12</span>"#,
            r#"data-testid="stat-calls-7d">-1</span>"#,
            r#"<span class="stat-value">2:05</span><span class="stat-label">Average answered call, 7 days</span>"#,
            r#"<span class="stat-value">87.2 %</span>"#,
        ] {
            assert!(html.contains(figure), "{figure} missing from {html}");
        }
        assert!(html.contains(r#"<figure class="chart"><svg viewBox="0 0 600 180" role="img" aria-label="Calls per day over the last 2 days: 12 in total, at most 8 in one day." data-testid="calls-chart"><rect class="bar""#));
        assert!(html.contains(
            r#"<th scope="col">Summary</th></tr></thead><tbody><tr data-testid="call-row">"#
        ));
        assert!(html.contains("Booked a &lt;b&gt;table&lt;/b&gt;"));
        assert!(
            !html.contains("Acme"),
            "the name is the view's, not the body's"
        );
        assert!(html
            .ends_with(r#"<p><a href="/calls">All calls</a> · <a href="/agents">Agents</a></p>"#));
        // Every element it opens, it closes.
        for tag in [
            "div", "span", "figure", "svg", "table", "tbody", "tr", "td", "a", "p", "h2",
        ] {
            assert_eq!(
                html.matches(&format!("<{tag}>")).count()
                    + html.matches(&format!("<{tag} ")).count(),
                html.matches(&format!("</{tag}>")).count(),
                "<{tag}> in {html}"
            );
        }
    }

    #[test]
    fn a_dashboard_without_calls_says_so() {
        let html = body_html(&dashboard(vec![]));
        assert!(html.contains(r#"<h2>Latest calls</h2><p class="empty">No calls match.</p>"#));
        assert!(!html.contains("<table"));
    }
}
