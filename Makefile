# pgpulse: a PostgreSQL exporter for Prometheus.
#
#   make                      build build/pgpulse
#   make check                install missing Debian packages, build, run every test
#   make check SANITIZE=address,undefined   the same under ASan/UBSan
#   make check SANITIZE=thread               the same under TSan
#   make check PG_VERSIONS=17  the version tests on PostgreSQL 17 only
#   make demo                 a throw-away PostgreSQL 15 with pgpulse on :9187
#   make bench                pgpulse beside postgres_exporter, same cluster, ratios
#   make bench-scale          the same at 100 databases x 20 tables, then behind a 1 ms proxy
#   make soak                 10,000 scrapes with reloads and faults: RSS and fds flat?
#   make install PREFIX=/usr/local DESTDIR=
#   make install-systemd      the systemd unit and /etc/default/pgpulse
#   make docker-check         build the image with podman and test it
#   make format / make check-format

VERSION  := 0.1.0
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PYTHON  ?= /usr/bin/python3

comma := ,
ifdef SANITIZE
# one tree per sanitizer set: objects of one must not be linked with another
BUILD   ?= build/sanitize-$(subst $(comma),-,$(SANITIZE))
else
BUILD   ?= build
endif

STD      = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wwrite-strings -Wpointer-arith -fno-common
ifeq ($(DEVELOPER),1)
WARN    += -Werror
endif
OPT     ?= -O2 -g
PKGS     = libpq yaml-0.1 libmicrohttpd zlib gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -Iexporter -DPGPULSE_VERSION='"$(VERSION)"' \
            -DPGPULSE_REVISION='"$(REVISION)"' \
            -DPGPULSE_DATADIR='"$(PREFIX)/share/pgpulse"'
CFLAGS  += $(STD) $(WARN) $(OPT) $(PKG_CFLAGS) -pthread -MMD -MP
LDLIBS  += $(PKG_LIBS) -lcrypt -lm -pthread
ifdef SANITIZE
CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

SRCS    := $(sort $(wildcard exporter/*.c))
OBJS    := $(patsubst exporter/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIBOBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
# PostgreSQL majors the version tests (the pgv fixture) run on: 15 is
# Debian's, scripts/pgversions fetches the others once into a cache.
PG_VERSIONS ?= $(or $(PGPULSE_PG_VERSIONS),13 14 15 16 17 18)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: FORCE fuzz all check unit integration deps demo bench soak install format check-format clean

all: $(BUILD)/pgpulse

$(BUILD)/pgpulse: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: exporter/%.c | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS) -lcmocka

# PREFIX is compiled into runtime.o (where the queries are): rebuild it
# when PREFIX changes, so 'make install PREFIX=/usr' installs a binary
# that looks in /usr/share/pgpulse.
$(BUILD)/obj/runtime.o: $(BUILD)/prefix
$(BUILD)/prefix: FORCE | $(BUILD)/obj
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)

# Debian packages the build, the tests and the demo need (scripts/bootstrap).
deps:
	@scripts/bootstrap

# A locale with a decimal comma, built from the 'locales' sources, so the
# test that numbers ignore the locale runs without touching the system's.
$(BUILD)/locale/de_DE.UTF-8:
	@mkdir -p $(BUILD)/locale
	localedef -i de_DE -f UTF-8 $@ || true

unit: $(UNIT_BINS) $(BUILD)/locale/de_DE.UTF-8
	@set -e; for t in $(UNIT_BINS); do \
		echo "== $$t"; (cd tests/unit && \
		LOCPATH=$(CURDIR)/$(BUILD)/locale \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/unit/lsan.supp \
		../../$$t); done

integration: $(BUILD)/pgpulse
	PGPULSE_BIN=$(CURDIR)/$(BUILD)/pgpulse PGPULSE_SANITIZE=$(SANITIZE) \
		PGPULSE_PG_VERSIONS="$(PG_VERSIONS)" \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

check: deps node-deps
	scripts/pgversions fetch $(PG_VERSIONS)
	$(MAKE) DEVELOPER=1 all
	$(MAKE) DEVELOPER=1 check-format
	$(MAKE) check-layout
	$(MAKE) DEVELOPER=1 unit
	$(MAKE) DEVELOPER=1 integration

# deps first, then the build: under make -j they must not run side by side
demo: deps
	$(MAKE) all
	@scripts/demo $(BUILD)/pgpulse

bench: deps
	$(MAKE) all
	@scripts/bench $(BUILD)/pgpulse

# BENCH_DATABASES=1000 for the 1,000-tenant figures (minutes to populate);
# BENCH_WARMUP=12 there, so the measured scrapes are past the first pass
BENCH_DATABASES ?= 100
BENCH_WARMUP    ?= 3
.PHONY: bench-scale
bench-scale: deps
	$(MAKE) all
	@scripts/bench $(BUILD)/pgpulse --databases $(BENCH_DATABASES) --tables 20 \
		--scrapes 20 --interval 5 --warmup $(BENCH_WARMUP)
	@scripts/bench $(BUILD)/pgpulse --databases $(BENCH_DATABASES) --tables 20 \
		--scrapes 20 --interval 5 --latency-ms 1 --warmup $(BENCH_WARMUP)

soak: deps
	$(MAKE) all
	@scripts/soak $(BUILD)/pgpulse $(SOAK_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgpulse \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/pgpulse $(DESTDIR)$(PREFIX)/bin/pgpulse
	cp -R queries $(DESTDIR)$(PREFIX)/share/pgpulse/
	install -d $(DESTDIR)$(PREFIX)/share/pgpulse/dashboards/provisioning
	install -m 644 dashboards/*.json dashboards/alerts.yaml \
		dashboards/alerts_test.yaml dashboards/README.md \
		$(DESTDIR)$(PREFIX)/share/pgpulse/dashboards/
	cp -R dashboards/provisioning/. \
		$(DESTDIR)$(PREFIX)/share/pgpulse/dashboards/provisioning/
	install -m 644 exporter/pgpulse.1 $(DESTDIR)$(PREFIX)/share/man/man1/pgpulse.1

# libFuzzer harnesses (tests/fuzz/), built with clang under ASan/UBSan and
# run FUZZ_SECONDS each from a corpus seeded with the shipped and test files:
# query files, config files, web configs, HTTP requests, metric pages. Any
# finding (crash, sanitizer report, leak, a 10 s hang) fails the target. CI
# runs it for 15 s each. fuzz_http runs without per-input leak checks: the
# server's threads free after the answer, and would be seen as leaks; ASan
# still stops on any memory error.
FUZZ_SECONDS ?= 60
FUZZ_CC    := clang $(CPPFLAGS) $(STD) -g -O1 $(PKG_CFLAGS) -pthread
FUZZERS    := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJS  := $(patsubst exporter/%.c,build/fuzz/obj/%.o,$(filter-out exporter/main.c,$(SRCS)))
FUZZ_RUN    = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=0
build/fuzz/obj/%.o: exporter/%.c
	@mkdir -p build/fuzz/obj
	$(FUZZ_CC) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
-include $(FUZZ_OBJS:.o=.d)
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(MAKE) $(FUZZERS)
	cd build/fuzz && mkdir -p corpus/querydef corpus/values corpus/config \
		corpus/webconfig corpus/http corpus/expfmt
	cp queries/*.yaml queries/compat/*.yaml tests/unit/fixtures/queries/*.yaml \
		build/fuzz/corpus/querydef/
	cp tests/unit/fixtures/config/*.yaml build/fuzz/corpus/config/
	cp tests/fuzz/seeds/web/* build/fuzz/corpus/webconfig/
	cp tests/fuzz/seeds/http/* build/fuzz/corpus/http/
	cp tests/golden/*.prom build/fuzz/corpus/expfmt/
	build/fuzz/fuzz_querydef $(FUZZ_RUN) -rss_limit_mb=4096 build/fuzz/corpus/querydef
	build/fuzz/fuzz_values $(FUZZ_RUN) -max_len=256 build/fuzz/corpus/values
	build/fuzz/fuzz_config $(FUZZ_RUN) build/fuzz/corpus/config
	build/fuzz/fuzz_webconfig $(FUZZ_RUN) build/fuzz/corpus/webconfig
	build/fuzz/fuzz_expfmt $(FUZZ_RUN) build/fuzz/corpus/expfmt
	build/fuzz/fuzz_http $(FUZZ_RUN) -detect_leaks=0 -max_len=4096 build/fuzz/corpus/http

format:
	clang-format -i exporter/*.c exporter/*.h tests/unit/*.c tests/fuzz/*.c

check-format:
	@bad=0; for f in exporter/*.c exporter/*.h tests/unit/*.c tests/fuzz/*.c; do \
		[ -f "$$f" ] || continue; \
		clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || \
			{ echo "not formatted: $$f (run make format)"; bad=1; }; \
	done; exit $$bad

clean:
	rm -rf build

# --- packaging (packaging/, Dockerfile; README "Deploying") ---------------

SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system

.PHONY: install-systemd docker-check node-deps

# The unit (its ExecStart pointing at $(PREFIX)/bin) and, unless there is one
# already, the environment file. With `make install`, or after it.
install-systemd:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/default
	install -d -m 750 $(DESTDIR)$(SYSCONFDIR)/pgpulse
	sed 's|/usr/local/bin/pgpulse|$(PREFIX)/bin/pgpulse|' \
		packaging/systemd/pgpulse.service >$(DESTDIR)$(UNITDIR)/pgpulse.service
	chmod 644 $(DESTDIR)$(UNITDIR)/pgpulse.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/pgpulse ] || \
		install -m 640 packaging/systemd/pgpulse.env \
			$(DESTDIR)$(SYSCONFDIR)/default/pgpulse

# The image built from the Dockerfile with podman and run against a
# throw-away PostgreSQL (scripts/docker-check); CI runs it once.
docker-check: deps
	@scripts/docker-check

# The npm packages of the Kubernetes manifests' test, outside the tree.
node-deps: deps
	@scripts/node-deps

# --- layout (docs/ARCHITECTURE.md) -----------------------------------------

.PHONY: check-layout longest

# Includes only downward in the layers of exporter/LAYERS, no cycle, no
# function over 80 lines or .c file over 800 (but scripts/size-allowlist);
# and the tests of those two scripts.
check-layout:
	$(PYTHON) scripts/check-layers
	$(PYTHON) scripts/longest-functions --check
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/scripts

# The longest functions of exporter/ (LONGEST=N of them) and the big files.
LONGEST ?= 20
longest:
	@$(PYTHON) scripts/longest-functions -n $(LONGEST)
