# Switchboard: `make run` serves the app, `make test` runs every test.
# Both install what is missing first (see `setup`); nothing else is needed on a fresh
# Debian/Ubuntu machine with Rust (rustup) installed.

RUST_TOOLCHAIN := $(shell sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
CARGO_LEPTOS_VERSION := 0.3.11
# Must equal the `wasm-bindgen` pin in Cargo.toml.
WASM_BINDGEN_VERSION := 0.2.130

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Package lists are refreshed only when something is about to be installed.
APT_INSTALL := $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

.PHONY: run test bench bench-islands setup setup-test build-release help

help:
	@echo "make run    build and serve on http://127.0.0.1:3000 (embedded PostgreSQL unless DATABASE_URL is set)"
	@echo "make test   unit, integration (real PostgreSQL) and browser tests"
	@echo "make build-release   release build into target/release and target/site (the server profile-guided)"
	@echo "make bench  the benchmark suite (release build, 10k and 1M calls, wrk)"
	@echo "make bench-islands  what an islands build of the public pages would ship (a probe)"

# --split everywhere: every page but the landing page and sign-in is a lazy route,
# compiled into a WASM module of its own that the browser fetches when it first shows
# that page (the app hydrates with `hydrate_lazy`, so every build must be split the same
# way).
run: setup
	cargo leptos serve --split

test: setup setup-test
	cargo test -p app --features ssr
	# One test at a time: each starts its own servers and database, so on two cores running
	# them side by side only makes them contend (51 s serial against 80 s in parallel), and
	# several tokio runtimes in one process sharing Leptos's global executor left a page
	# request waiting forever in about one parallel run in two (never in a serial run, nor
	# in a standalone server under wrk).
	cargo test -p server -- --test-threads=1
	@data=$$(mktemp -d /tmp/switchboard-e2e.XXXXXX); trap 'rm -rf "$$data"' EXIT; \
	SWITCHBOARD_DATA_DIR="$$data" LEPTOS_SITE_ADDR=127.0.0.1:3100 E2E_BASE_URL=http://127.0.0.1:3100 \
	LEPTOS_RELOAD_PORT=3101 cargo leptos end-to-end --split

# The release WASM is built for size beyond what a profile can ask: the standard library
# is compiled again with the bundle's own settings (`-Zbuild-std`, for size), a panic stops
# at once instead of formatting a message (`panic=immediate-abort`: no formatting code
# for panics), and no source locations are kept. These are unstable options of the pinned
# stable compiler, enabled for this one build with RUSTC_BOOTSTRAP (as the Linux kernel
# builds its Rust); `rust-src` (rust-toolchain.toml) provides the library's source. The
# server and the debug builds the tests run use plain stable. The main module goes from
# 296 to 243 KB gzip with the JSON and form changes of the same day (README, "Measured").
WASM_RELEASE_ENV := RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--cfg erase_components -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
WASM_RELEASE_ARGS := --lib-cargo-args=-Zbuild-std=std,panic_abort \
  --lib-cargo-args=-Zbuild-std-features=optimize_for_size

# The server is built profile-guided (PGO): first instrumented, in a target directory of
# its own so that both builds stay cached; that binary then serves bench/pgo-train.sh (a
# signed-in user's pages on a small seeded database, ~5 s) and writes which code ran how
# often; `llvm-profdata` (rustup's `llvm-tools`) merges the counts, and the release build
# lays out and inlines by them. Against the same build without (2026-12-04, three
# interleaved pairs of wrk runs on a 1M database): the dashboard 3,307-3,359 against
# 3,757-3,818 pages a second (+12-15%), p50 19.0 against 16.5 ms; `/calls` +11-22%.
# The build scripts and proc macros of the instrumented build write counts of their own
# while it compiles: they are dropped before the training run. The flags go in
# CARGO_BUILD_RUSTFLAGS, which cargo adds to .cargo/config.toml's; RUSTFLAGS would replace
# them, and a server without `--cfg erase_components` renders HTML the bundle cannot
# hydrate (`make bench`'s first visit caught it: "unreachable").
PGO_DIR := $(CURDIR)/target/pgo
LLVM_PROFDATA = $(shell rustc --print sysroot)/lib/rustlib/$(shell rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata

build-release: setup
	$(WASM_RELEASE_ENV) cargo leptos build --release --split --frontend-only $(WASM_RELEASE_ARGS)
	@rustup component list --installed --toolchain $(RUST_TOOLCHAIN) | grep -q "^llvm-tools" || \
	  rustup component add llvm-tools --toolchain $(RUST_TOOLCHAIN)
	@command -v curl >/dev/null || { $(APT_INSTALL) curl; }
	CARGO_TARGET_DIR=$(PGO_DIR)/build CARGO_BUILD_RUSTFLAGS="-Cprofile-generate=$(PGO_DIR)/counts" \
	  cargo leptos build --release --split --server-only
	$(MAKE) --no-print-directory $(PGO_DIR)/switchboard.profdata
	CARGO_BUILD_RUSTFLAGS="-Cprofile-use=$(PGO_DIR)/switchboard.profdata" cargo leptos build --release --split --server-only

# Trained again only when the instrumented binary changed (cargo leaves it alone when
# nothing did), so a second `make build-release` rebuilds nothing: a new profile makes
# cargo rebuild every crate of the optimized server (4 min 19 s, measured).
$(PGO_DIR)/switchboard.profdata: $(PGO_DIR)/build/release/switchboard
	rm -rf $(PGO_DIR)/counts
	bash bench/pgo-train.sh $<
	"$(LLVM_PROFDATA)" merge -o $@ $(PGO_DIR)/counts

# The benchmark suite (not part of `make test`): release build, seeded databases of 10k
# and 1M calls, wrk on loopback; a table on stdout and JSON in bench/results/.
bench: build-release setup-test
	@command -v wrk >/dev/null || { $(APT_INSTALL) wrk; }
	bash bench/run.sh

# What an islands build of the public pages would ship (README, "What the 120 KB first
# visit would take"): a probe, not part of the product.
bench-islands: setup
	$(WASM_RELEASE_ENV) bash bench/islands.sh

# --- set-up: each step runs only when its tool is missing or at another version ---

setup:
	@command -v cargo >/dev/null || { echo "Rust is required: https://rustup.rs"; exit 1; }
	@rustup toolchain list | grep -q "^$(RUST_TOOLCHAIN)" || \
	  rustup toolchain install $(RUST_TOOLCHAIN) --profile minimal -c rustfmt,clippy,rust-src -t wasm32-unknown-unknown
	@rustup target list --installed --toolchain $(RUST_TOOLCHAIN) | grep -q wasm32-unknown-unknown || \
	  rustup target add wasm32-unknown-unknown --toolchain $(RUST_TOOLCHAIN)
	@rustup component list --installed --toolchain $(RUST_TOOLCHAIN) | grep -q "^rust-src" || \
	  rustup component add rust-src --toolchain $(RUST_TOOLCHAIN)
	@cargo leptos --version 2>/dev/null | grep -q " $(CARGO_LEPTOS_VERSION)" || \
	  cargo install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked --features no_downloads
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)" || \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@command -v npm >/dev/null || { $(APT_INSTALL) nodejs npm; }
	@[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { $(APT_INSTALL) postgresql; }

setup-test:
	@[ -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { $(APT_INSTALL) chromium; }
	@[ -d end2end/node_modules/@playwright/test ] || (cd end2end && npm ci --no-audit --no-fund)
