//! When a page's WASM starts: at once, or at the visitor's first interaction.

use leptos::prelude::*;

/// Pages whose every control works as a plain HTML form or link: they hydrate only when
/// the visitor first touches the page (a pointer over it, a key, a focus, a touch), so a
/// visit that only reads them downloads no WASM. Anything done before hydration finishes
/// works the plain way (the form posts, the link loads a page); the inputs are left
/// uncontrolled, so what was typed is still there once hydrated.
///
/// The landing page is not one of them: its estimator computes in the browser, and a
/// value typed while the WASM was still loading would not be counted.
pub fn hydrates_on_interaction(path: &str) -> bool {
    path == "/auth" || path.starts_with("/auth/")
}

/// The events that start a lazily hydrated page's WASM. `pointerover` fires as soon as a
/// mouse moves over the page, so on a desktop the download starts long before a click.
#[cfg(feature = "ssr")]
const INTERACTIONS: &str = r#"["pointerover", "pointerdown", "touchstart", "keydown", "focusin"]"#;

/// The inline module that loads the bundle at the first of `INTERACTIONS` and hydrates
/// the page, as Leptos's own hydration script does at once.
#[cfg(feature = "ssr")]
fn lazy_script(js: &str, wasm: &str) -> String {
    format!(
        "(function (js, wasm, events) {{
  const options = {{ capture: true, passive: true }};
  const start = () => {{
    for (const name of events) removeEventListener(name, start, options);
    import(js).then((mod) => mod.default({{ module_or_path: wasm }}).then(() => mod.hydrate()));
  }};
  for (const name of events) addEventListener(name, start, options);
}})({js:?}, {wasm:?}, {INTERACTIONS});"
    )
}

/// The hydration scripts of the page being rendered: Leptos's `HydrationScripts` (the
/// bundle starts loading with the page), or for a page `hydrates_on_interaction` accepts,
/// the script that waits for the visitor. With hashed file names (not used here) every
/// page takes Leptos's scripts, which know how to find them.
#[component]
pub fn Hydration(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let on_interaction = with_context::<http::request::Parts, _>(|parts| {
            hydrates_on_interaction(parts.uri.path())
        });
        if !options.hash_files && on_interaction == Some(true) {
            let pkg = format!("/{}/{}", options.site_pkg_dir, options.output_name);
            // cargo-leptos names the module after the output (`LEPTOS_OUTPUT_NAME`, set for
            // the whole build); without it wasm-bindgen's `_bg` suffix stays, as Leptos's
            // `HydrationScripts` assumes too.
            let wasm_suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
                ""
            } else {
                "_bg"
            };
            let script = lazy_script(&format!("{pkg}.js"), &format!("{pkg}{wasm_suffix}.wasm"));
            let nonce = leptos::nonce::use_nonce();
            return view! { <script type="module" nonce=nonce>{script}</script> }.into_any();
        }
    }
    view! { <HydrationScripts options/> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_auth_pages_wait_for_the_visitor() {
        for path in [
            "/auth/signin",
            "/auth/signup",
            "/auth/confirm",
            "/auth/forgot",
            "/auth/reset",
            "/auth/signout",
        ] {
            assert!(hydrates_on_interaction(path), "{path}");
        }
        for path in [
            "/",
            "/dashboard",
            "/calls",
            "/authors",
            "/settings/account",
            "/api/auth/session",
        ] {
            assert!(!hydrates_on_interaction(path), "{path}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_lazy_script_loads_the_named_files_once() {
        let script = lazy_script("/pkg/switchboard.js", "/pkg/switchboard.wasm");
        assert!(
            script.contains(r#"("/pkg/switchboard.js", "/pkg/switchboard.wasm", ["pointerover""#)
        );
        // Every listener it adds, it removes at the first event, with the same options.
        assert!(script.contains("addEventListener(name, start, options)"));
        assert!(script.contains("removeEventListener(name, start, options)"));
    }
}
