# The two commands of the README:
#   make run    the product: Redis and carbon-cache (started when none answers), am-collector,
#               am-runner with the shipped plugins, am-console, live demo traffic, the analysis
#               read back
#   make test   every test, against real redis-server and carbon daemons
# Both install what they need when it is missing (Debian packages, cargo-nextest).

# Everything the tests and the demo run: the daemons, the shipped plugins, the test plugins.
# (The package name is the first `name =` of each plugin's Cargo.toml.)
PRODUCT = -p am-collector -p am-runner -p am-console $(patsubst %,-p %,$(shell sed -s -n '0,/^name = /s/^name = "\(.*\)"/\1/p' plugins/*/Cargo.toml))
TEST_PLUGINS = -p am-test-plugin-faulty -p am-test-plugin-abi-mismatch

.PHONY: run test lint build deb bench-ingest bench-memory

run:
	scripts/ensure-deps redis carbon
	cargo build --release $(PRODUCT)
	scripts/run

test:
	scripts/ensure-deps redis carbon nextest r alertmanager openssl smtp chromium deb systemd
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --release $(PRODUCT) $(TEST_PLUGINS)
	cargo nextest run --workspace --no-fail-fast
	cargo test --workspace --doc

build:
	cargo build --release $(PRODUCT)

# The Debian package (target/debian/anna-molly_*.deb).
deb:
	scripts/ensure-deps deb
	scripts/package-deb

bench-ingest:
	bench/ingest

bench-memory:
	bench/memory
