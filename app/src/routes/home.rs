//! The public landing page: what Switchboard is, and the way in.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="AI phone agents for your business"/>
        <section class="hero">
            <h1>"AI phone agents that answer every call"</h1>
            <p class="lead">
                "Switchboard is the console for your voice agents: set up agents that greet, "
                "qualify and route callers, then review every call, transcript and outcome, "
                "with your organization's data kept to your organization."
            </p>
            <div class="actions">
                <a class="button button-primary" href="/auth/signup">"Create your organization"</a>
                <a class="button" href="/auth/signin">"Sign in"</a>
            </div>
        </section>
        <section class="features" aria-label="What you get">
            <article>
                <h2>"Agents"</h2>
                <p>"Greeting, instructions, voice, language and phone number for each agent; pause one with a click."</p>
            </article>
            <article>
                <h2>"Calls"</h2>
                <p>"Every inbound and outbound call with its summary, sentiment and full transcript."</p>
            </article>
            <article>
                <h2>"Isolation"</h2>
                <p>"Row-Level Security in PostgreSQL: the database itself refuses to show one organization's data to another."</p>
            </article>
        </section>
        <SavingsEstimator/>
    }
}

/// Minutes of staff time a handled call costs, on average, used by the estimator.
const DEFAULT_MINUTES_PER_CALL: u32 = 4;

/// Hours a month a team gets back when agents handle `calls` calls of `minutes` each.
pub fn hours_saved(calls: u32, minutes: u32) -> u32 {
    (u64::from(calls) * u64::from(minutes) / 60).min(u64::from(u32::MAX)) as u32
}

/// An interactive estimate, computed in the browser once the page has hydrated.
#[component]
fn SavingsEstimator() -> impl IntoView {
    let calls = RwSignal::new(1_000_u32);
    let hours = move || hours_saved(calls.get(), DEFAULT_MINUTES_PER_CALL);

    view! {
        <section class="estimator" aria-labelledby="estimator-title">
            <h2 id="estimator-title">"What would it save you?"</h2>
            <label for="calls-per-month">"Calls a month"</label>
            <input
                id="calls-per-month"
                name="calls_per_month"
                type="range"
                min="0"
                max="20000"
                step="100"
                prop:value=move || calls.get().to_string()
                on:input=move |ev| {
                    if let Ok(value) = event_target_value(&ev).parse::<u32>() {
                        calls.set(value);
                    }
                }
            />
            <p role="status" aria-live="polite">
                <output for="calls-per-month" data-testid="calls-value">{move || calls.get()}</output>
                " calls a month at "
                {DEFAULT_MINUTES_PER_CALL}
                " minutes each: about "
                <strong data-testid="hours-saved">{hours}</strong>
                " hours of your team's time back."
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::hours_saved;

    #[test]
    fn hours_saved_rounds_down_and_does_not_overflow() {
        assert_eq!(hours_saved(1_000, 4), 66);
        assert_eq!(hours_saved(0, 4), 0);
        assert_eq!(hours_saved(u32::MAX, u32::MAX), u32::MAX);
    }
}
