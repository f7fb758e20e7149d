//! Pieces the organization pages share: error views, status badges, the calls chart.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::errors::AppError;
use crate::org::CallRow;

/// Shows an error in place of a page's content. Not found (also: another organization's
/// id) answers 404 during SSR, exactly like an id that does not exist.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
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
            <A href="/dashboard">"Back to the dashboard"</A>
        </section>
    }
}

#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge badge-{status}");
    view! { <span class=class>{status}</span> }
}

pub fn duration_text(seconds: i32) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// The calls table used by the dashboard and the calls page.
#[component]
pub fn CallsTable(calls: Vec<CallRow>) -> impl IntoView {
    if calls.is_empty() {
        return view! { <p class="empty">"No calls match."</p> }.into_any();
    }
    view! {
        <table class="table">
            <thead>
                <tr>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Agent"</th>
                    <th scope="col">"Direction"</th>
                    <th scope="col">"From"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"Summary"</th>
                </tr>
            </thead>
            <tbody>
                {calls.into_iter().map(|call| {
                    let href = format!("/calls/{}", call.id);
                    view! {
                        <tr data-testid="call-row">
                            <td><A href=href>{call.started_at.clone()}</A></td>
                            <td>{call.agent_name.clone().unwrap_or_else(|| "—".to_owned())}</td>
                            <td>{call.direction.clone()}</td>
                            <td>{call.from_number.clone()}</td>
                            <td><StatusBadge status=call.status.clone()/></td>
                            <td>{duration_text(call.duration_seconds)}</td>
                            <td class="summary">{call.summary.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Calls per day as bars, drawn on the server as SVG (readable without JavaScript), with a
/// text alternative.
#[component]
pub fn CallsChart(per_day: Vec<(String, i64)>) -> impl IntoView {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 160.0;
    let max = per_day.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let total: i64 = per_day.iter().map(|(_, n)| n).sum();
    let slot = WIDTH / per_day.len().max(1) as f64;
    let label = format!(
        "Calls per day over the last {} days: {} in total, at most {} in one day.",
        per_day.len(),
        total,
        max as i64
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 20.0) role="img" aria-label=label.clone() data-testid="calls-chart">
                {per_day.iter().enumerate().map(|(i, (day, n))| {
                    let h = (*n as f64 / max) * HEIGHT;
                    let x = i as f64 * slot + 1.0;
                    view! {
                        <rect x=format!("{x:.1}") y=format!("{:.1}", HEIGHT - h) width=format!("{:.1}", (slot - 2.0).max(1.0)) height=format!("{h:.1}") class="bar">
                            <title>{format!("{day}: {n} calls")}</title>
                        </rect>
                    }
                }).collect_view()}
                <line x1="0" y1=HEIGHT.to_string() x2=WIDTH.to_string() y2=HEIGHT.to_string() class="axis"/>
                {per_day.first().map(|(d, _)| view! { <text x="0" y=(HEIGHT + 16.0).to_string() class="tick">{d.clone()}</text> })}
                {per_day.last().map(|(d, _)| view! { <text x=WIDTH.to_string() y=(HEIGHT + 16.0).to_string() text-anchor="end" class="tick">{d.clone()}</text> })}
            </svg>
            <figcaption>{label}</figcaption>
        </figure>
    }
}
