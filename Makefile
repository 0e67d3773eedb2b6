# The two commands of the README:
#   make run    the product: a local Redis (started when none answers), am-collector, sample traffic
#   make test   every test, against real redis-server and carbon daemons
# Both install what they need when it is missing (Debian packages, cargo-nextest).

.PHONY: run test lint build bench-ingest bench-memory

run:
	scripts/ensure-deps redis
	cargo build --release --bins
	scripts/run

test:
	scripts/ensure-deps redis carbon nextest
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --release -p am-collector
	cargo nextest run --workspace --no-fail-fast
	cargo test --workspace --doc

build:
	cargo build --release --bins

bench-ingest:
	bench/ingest

bench-memory:
	bench/memory
