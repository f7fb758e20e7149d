//! The first signed-in page: the organization at a glance.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::data::{duration_text, CallRows, CallsChart, CallsTable, Chart, ErrorView};
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
    // Laid out once per dashboard value, not on each of Suspense's passes over the view.
    let drawn = Memo::new(move |_| {
        data.with(|d| match d {
            Some(Ok(d)) => (Chart::new(&d.per_day), CallRows::new(&d.latest)),
            _ => (Chart::new(&[]), CallRows::default()),
        })
    });
    view! {
        <Title text="Dashboard"/>
        <RequireAuth>
            <DashboardContent data drawn/>
        </RequireAuth>
    }
}

#[component]
fn DashboardContent(data: Data<Dashboard>, drawn: Memo<(Chart, CallRows)>) -> impl IntoView {
    let auth = use_auth();
    let user = move || auth.signed_in();
    // Borrows the dashboard: this runs on each of Suspense's passes, and what it shows
    // beyond the chart and the rows (in `drawn`) is a name and five figures.
    view! {
            {move || data.with(|result| result.as_ref().map(|result| match result {
                Err(error) => view! { <ErrorView error=error.clone()/> }.into_any(),
                Ok(d) => {
                    // Not `get`: see `Auth::signed_in` (a late pass after the memo is gone).
                    let (chart, rows) = drawn
                        .try_get()
                        .unwrap_or_else(|| (Chart::new(&[]), CallRows::default()));
                    view! {
                    <section aria-labelledby="dashboard-title">
                        <h1 id="dashboard-title" data-testid="organization-name">{d.organization_name.clone()}</h1>
                        <p class="muted">
                            "Signed in as " <span data-testid="user-email">{move || user().map(|u| u.email).unwrap_or_default()}</span>
                            " · " {move || user().and_then(|u| u.role).unwrap_or_default()}
                        </p>
                        <div class="stats">
                            <div class="stat"><span class="stat-value" data-testid="stat-agents">{d.agents}</span><span class="stat-label">"Agents"</span></div>
                            <div class="stat"><span class="stat-value" data-testid="stat-calls-24h">{d.calls_24h}</span><span class="stat-label">"Calls, last 24 h"</span></div>
                            <div class="stat"><span class="stat-value" data-testid="stat-calls-7d">{d.calls_7d}</span><span class="stat-label">"Calls, last 7 days"</span></div>
                            <div class="stat"><span class="stat-value">{duration_text(d.avg_duration_7d.round() as i32)}</span><span class="stat-label">"Average answered call, 7 days"</span></div>
                            <div class="stat"><span class="stat-value">{format!("{:.1} %", d.answer_rate_7d)}</span><span class="stat-label">"Answer rate, 7 days"</span></div>
                        </div>
                        <h2>"Calls per day, last 30 days"</h2>
                        <CallsChart chart/>
                        <h2>"Latest calls"</h2>
                        <CallsTable rows/>
                        <p><a href="/calls">"All calls"</a> " · " <a href="/agents">"Agents"</a></p>
                    </section>
                    }.into_any()
                }
            }))}
    }
}
