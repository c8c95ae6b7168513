# pgpulse: a PostgreSQL exporter for Prometheus.
#
#   make                      build build/pgpulse
#   make check                install missing Debian packages, build, run every test
#   make check SANITIZE=address,undefined   the same under ASan/UBSan
#   make check SANITIZE=thread               the same under TSan
#   make demo                 a throw-away PostgreSQL 15 with pgpulse on :9187
#   make bench                pgpulse beside postgres_exporter, same cluster, ratios
#   make soak                 10,000 scrapes with reloads and faults: RSS and fds flat?
#   make install PREFIX=/usr/local DESTDIR=
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
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

check: deps
	$(MAKE) DEVELOPER=1 all
	$(MAKE) DEVELOPER=1 check-format
	$(MAKE) DEVELOPER=1 unit
	$(MAKE) DEVELOPER=1 integration

# deps first, then the build: under make -j they must not run side by side
demo: deps
	$(MAKE) all
	@scripts/demo $(BUILD)/pgpulse

bench: deps
	$(MAKE) all
	@scripts/bench $(BUILD)/pgpulse

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
# run FUZZ_SECONDS each from a corpus seeded with the shipped and test
# query files. Not part of check: run it after changing a parser.
FUZZ_SECONDS ?= 60
FUZZERS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build/fuzz/%: tests/fuzz/%.c $(filter-out exporter/main.c,$(SRCS))
	@mkdir -p build/fuzz
	clang $(CPPFLAGS) $(STD) -g -O1 $(PKG_CFLAGS) -pthread \
		-fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(MAKE) $(FUZZERS)
	mkdir -p build/fuzz/corpus/querydef build/fuzz/corpus/values
	cp queries/*.yaml queries/compat/*.yaml tests/unit/fixtures/queries/*.yaml \
		build/fuzz/corpus/querydef/
	build/fuzz/fuzz_querydef -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
		build/fuzz/corpus/querydef
	build/fuzz/fuzz_values -max_total_time=$(FUZZ_SECONDS) -max_len=256 \
		build/fuzz/corpus/values

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
