//! Calls: the filtered list (keyset pages, filters in the URL so every view is a link)
//! and one call with its transcript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

use crate::components::data::{duration_text, CallRows, CallsTable, ErrorView, StatusBadge};
use crate::components::forms::encode_query_value;
use crate::components::guard::RequireAuth;
use crate::errors::AppError;
use crate::org::api::{get_call, list_agents, list_calls};
use crate::org::CallFilter;
use crate::resource::data;

#[component]
pub fn CallsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|v| !v.trim().is_empty());
    let filter = Memo::new(move |_| CallFilter {
        agent: param("agent").and_then(|a| Uuid::parse_str(&a).ok()),
        status: param("status"),
        direction: param("direction"),
        from: param("from"),
        to: param("to"),
        q: param("q"),
    });
    let cursor = Memo::new(move |_| param("cursor"));
    let calls = data(
        move || (filter.get(), cursor.get()),
        |(f, c)| list_calls(f, c),
    );
    let agents = data(|| (), |_| list_agents(None));
    // The table's rows, escaped once per page of calls (see `CallRows`).
    let rows = Memo::new(move |_| {
        calls.with(|c| match c {
            Some(Ok(page)) => CallRows::new(&page.calls),
            _ => CallRows::default(),
        })
    });
    let selected =
        move |name: &'static str, value: &'static str| param(name).as_deref() == Some(value);
    let next_href = move |next: String| {
        // Not `get`: a Suspense task of an answered request can still run this after the
        // memo is gone (see `Auth::with_user`); its output is thrown away then.
        let f = filter.try_get().unwrap_or_default();
        let mut parts = vec![];
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", encode_query_value(&v)));
            }
        };
        push("agent", f.agent.map(|a| a.to_string()));
        push("status", f.status);
        push("direction", f.direction);
        push("from", f.from);
        push("to", f.to);
        push("q", f.q);
        push("cursor", Some(next));
        format!("/calls?{}", parts.join("&"))
    };
    view! {
        <Title text="Calls"/>
        <RequireAuth>
            <section aria-labelledby="calls-title">
                <h1 id="calls-title">"Calls"</h1>
                <form method="get" action="/calls" class="filters" aria-label="Filter calls">
                    <div>
                        <label for="filter-agent">"Agent"</label>
                        <select id="filter-agent" name="agent">
                            <option value="">"Any agent"</option>
                                {move || agents.get().and_then(Result::ok).map(|list| list.into_iter().map(|a| {
                                    let id = a.id.to_string();
                                    let is = filter.get().agent == Some(a.id);
                                    view! { <option value=id selected=is>{a.name}</option> }
                                }).collect_view())}
                        </select>
                    </div>
                    <div>
                        <label for="filter-status">"Status"</label>
                        <select id="filter-status" name="status">
                            <option value="">"Any status"</option>
                            {["completed", "missed", "failed", "voicemail"].into_iter().map(|s| view! { <option value=s selected=move || selected("status", s)>{s}</option> }).collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="filter-direction">"Direction"</label>
                        <select id="filter-direction" name="direction">
                            <option value="">"Both"</option>
                            {["inbound", "outbound"].into_iter().map(|d| view! { <option value=d selected=move || selected("direction", d)>{d}</option> }).collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="filter-from">"From"</label>
                        <input id="filter-from" name="from" type="date" value=move || param("from").unwrap_or_default()/>
                    </div>
                    <div>
                        <label for="filter-to">"To"</label>
                        <input id="filter-to" name="to" type="date" value=move || param("to").unwrap_or_default()/>
                    </div>
                    <div>
                        <label for="filter-q">"Summary contains"</label>
                        <input id="filter-q" name="q" type="search" maxlength="200" value=move || param("q").unwrap_or_default()/>
                    </div>
                    <div class="filter-actions">
                        <button type="submit" class="button button-primary">"Apply filters"</button>
                        <a href="/calls">"Clear"</a>
                    </div>
                </form>
                    {move || calls.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(page) => view! {
                            <CallsTable rows=rows.try_get().unwrap_or_default()/>
                            <nav class="pager" aria-label="Pages">
                                <Show when=move || cursor.get().is_some()>
                                    <a href="/calls">"First page"</a>
                                </Show>
                                {page.next_cursor.clone().map(|next| view! { <a href=next_href(next) rel="next">"Next page"</a> })}
                            </nav>
                        }.into_any(),
                    })}
            </section>
        </RequireAuth>
    }
}

fn clock(at_ms: i64) -> String {
    let seconds = at_ms.max(0) / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[component]
pub fn CallPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| Uuid::parse_str(&id).ok())
    });
    let call = data(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => get_call(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    view! {
        <Title text="Call"/>
        <RequireAuth>
                {move || call.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(detail) => {
                        let c = detail.call.clone();
                        view! {
                            <section aria-labelledby="call-title">
                                <div class="page-head">
                                    <h1 id="call-title">{format!("{} call, {}", capitalize(&c.direction), c.started_at)}</h1>
                                    <StatusBadge status=c.status.clone()/>
                                </div>
                                <dl class="facts">
                                    <dt>"Agent"</dt><dd>{c.agent_name.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                                    <dt>"From"</dt><dd>{c.from_number.clone()}</dd>
                                    <dt>"To"</dt><dd>{detail.to_number.clone()}</dd>
                                    <dt>"Duration"</dt><dd>{duration_text(c.duration_seconds)}</dd>
                                    <dt>"Sentiment"</dt><dd>{detail.sentiment.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                                    <dt>"Summary"</dt><dd data-testid="call-summary">{c.summary.clone()}</dd>
                                </dl>
                                {detail.recording_url.clone().map(|url| view! { <p><a href=url rel="noopener noreferrer">"Recording"</a></p> })}
                                <h2>"Transcript"</h2>
                                {if detail.transcript.is_empty() {
                                    view! { <p class="empty">"No transcript for this call."</p> }.into_any()
                                } else {
                                    view! {
                                        <ol class="transcript" data-testid="transcript">
                                            {detail.transcript.iter().map(|line| {
                                                let class = format!("turn turn-{}", if line.speaker == "agent" { "agent" } else { "caller" });
                                                view! {
                                                    <li class=class>
                                                        <span class="speaker">{capitalize(&line.speaker)}</span>
                                                        <time class="at">{clock(line.at_ms)}</time>
                                                        <p>{line.text.clone()}</p>
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ol>
                                    }.into_any()
                                }}
                                <p><a href="/calls">"All calls"</a></p>
                            </section>
                        }.into_any()
                    }
                })}
        </RequireAuth>
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
