# ferry: a single-binary HTTPS file server on mbedTLS.
#
#   make            build ./ferry (objects in build/)
#   make run        install what is missing, build, serve DIR (default: .)
#   make test       install what is missing, build, run every test
#   make SANITIZE=1 build build-asan/ferry with ASan and UBSan
#
# CC, CFLAGS and LDFLAGS are yours; the flags ferry needs are added last.

CC        ?= cc
CFLAGS    ?= -O2 -g
WARNFLAGS ?= -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
             -Wmissing-prototypes -Wstrict-prototypes
REQFLAGS   = -std=c11 -D_GNU_SOURCE -MMD -MP -pthread
PYTHON    ?= /usr/bin/python3
DIR       ?= .
PORT      ?= 8443
BIND      ?=
ARGS      ?=

# mbedTLS and libcrypt are linked statically, in this order, so ./ferry
# needs only libc.
MBEDTLS_LIBS = -Wl,-Bstatic -lmbedtls -lmbedx509 -lmbedcrypto -lcrypt -Wl,-Bdynamic

SRCS = server.c worker.c handoff.c options.c conn.c conn_body.c conn_gate.c \
       verify.c access.c respond.c response.c body.c \
       chunked.c upload.c tidy.c tls.c tls_bio.c tls_files.c tls_config.c \
       tls_log.c \
       ident.c http.c head.c files.c opencache.c path.c \
       range.c cond.c listing.c accept.c page.c mime.c gate.c roles.c auth.c \
       auth_cache.c log.c

ifeq ($(SANITIZE),1)
BUILD    = build-asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
else
BUILD    = build
SANFLAGS =
endif

ALL_CFLAGS  = $(CFLAGS) $(WARNFLAGS) $(SANFLAGS) $(REQFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) -pthread
OBJS        = $(SRCS:%.c=$(BUILD)/%.o)

# Packages: what building needs, and what the tests drive.
BUILD_PKGS = gcc make libc6-dev libmbedtls-dev libcrypt-dev
TEST_PKGS  = clang libcmocka-dev curl wget aria2 openssl python3 \
             python3-pytest python3-requests python3-cryptography chromium \
             media-types \
             apache2-utils whois testssl.sh sslscan llvm-14 \
             libclang-rt-14-dev slowhttptest iproute2
# What `make bench-hostile` and `make bench` run ferry against, and
# their clients (bench/README.md).
BENCH_PKGS = python3 openssl nginx lighttpd lighttpd-mod-mbedtls \
             lighttpd-mod-webdav slowhttptest wrk curl util-linux \
             libssl-dev

# Unit tests: each links its module and nothing else (log.c for logging).
UNIT_TESTS = test_http test_head test_range test_path test_listing test_mime \
             test_chunked test_upload test_roles test_auth
test_http_OBJS    = http.o guard.o cases.o
test_head_OBJS    = head.o guard.o
test_mime_OBJS    = mime.o
test_range_OBJS   = range.o cond.o http.o head.o guard.o
test_path_OBJS    = path.o guard.o
test_listing_OBJS = listing.o accept.o page.o files.o opencache.o path.o guard.o
test_chunked_OBJS = chunked.o guard.o cases.o
test_upload_OBJS  = upload.o tidy.o files.o opencache.o cond.o http.o head.o path.o
test_roles_OBJS   = roles.o
test_auth_OBJS    = auth.o auth_cache.o http.o guard.o cases.o

.PHONY: all asan test unit e2e lint run deps build-deps browser-deps clean \
        clean-objs bench bench-login bench-hostile fuzz fuzz-coverage test-long

all: ferry

ifeq ($(SANITIZE),1)
ferry: $(BUILD)/ferry
else
ferry: $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(MBEDTLS_LIBS)
endif

$(BUILD)/ferry: $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(MBEDTLS_LIBS)

$(BUILD)/%.o: %.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -I. -c -o $@ $<

$(BUILD)/test_%.o: test/unit/test_%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -I. -c -o $@ $<

# Helpers shared by unit tests: guard pages, making and running cases.
$(BUILD)/guard.o $(BUILD)/cases.o: $(BUILD)/%.o: test/unit/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -I. -c -o $@ $<

$(BUILD):
	mkdir -p $@

asan:
	$(MAKE) SANITIZE=1 build-asan/ferry

# Install what is missing (needs root; says what to install otherwise).
build-deps:
	@sh test/install-deps.sh $(BUILD_PKGS)

deps:
	@sh test/install-deps.sh $(BUILD_PKGS) $(TEST_PKGS)

run: build-deps
	$(MAKE) ferry
	./ferry --port $(PORT) $(if $(BIND),--bind $(BIND)) $(ARGS) $(DIR)

# Unit tests and end-to-end tests run against the ASan+UBSan build.
# What CI runs: checks, then unit and end-to-end tests against the
# ASan+UBSan build (the heavy and timing tests against the release build),
# the unit tests against the release build too, then each fuzz target for
# FUZZ_SECONDS (60), two at a time.
test: deps
	$(MAKE) lint
	$(MAKE) SANITIZE=1 unit e2e
	$(MAKE) unit
	$(MAKE) -j2 fuzz

# The long runs: each fuzz target for 10 minutes, then its coverage.
test-long: deps
	$(MAKE) -j2 fuzz FUZZ_SECONDS=600
	$(MAKE) fuzz-coverage

define unit_rule
$(BUILD)/$(1): $(BUILD)/$(1).o $$(addprefix $(BUILD)/,$$($(1)_OBJS)) \
               $(BUILD)/log.o
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ -lcmocka $(MBEDTLS_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

unit: $(UNIT_TESTS:%=$(BUILD)/%)
	@for t in $(UNIT_TESTS); do \
	    echo "== $$t"; ./$(BUILD)/$$t || exit 1; done

# The drop-page test drives Chromium with playwright-core from npm.
browser-deps:
	@command -v npm >/dev/null || sh test/install-deps.sh nodejs npm
	@test -d test/browser/node_modules || (cd test/browser && \
	    npm ci --no-audit --no-fund --ignore-scripts)

e2e: $(BUILD)/ferry ferry browser-deps
	FERRY_BIN=$(CURDIR)/$(BUILD)/ferry FERRY_RELEASE_BIN=$(CURDIR)/ferry \
	    $(PYTHON) -m pytest -q -p no:cacheprovider test/e2e

# Style checks that a compiler does not make.
lint:
	@! grep -nE '\b(atoi|sscanf|sprintf|strcpy|strcat|strtok|gets)\s*\(' \
	    $(SRCS) *.h || { echo "lint: banned function"; exit 1; }
	@! awk 'length($$0) > 100 { print FILENAME ":" FNR ": over 100 columns" }' \
	    $(SRCS) *.h test/unit/*.c | grep . || exit 1
	@! grep -nP '\t' $(SRCS) *.h || { echo "lint: tab"; exit 1; }
	$(MAKE) BUILD=build-clang CC=clang build-clang/ferry
	$(MAKE) CC=gcc ferry

clean-objs:
	rm -rf build build-asan build-clang build-fuzz

clean: clean-objs
	rm -f ferry

-include $(wildcard build/*.d build-asan/*.d build-clang/*.d)

# Benchmarks (bench/README.md); they print figures and assert nothing.
bench-login:
	$(MAKE) ferry
	$(PYTHON) bench/login.py

# ferry, nginx and lighttpd under slowhttptest and an idle flood (~9 min).
bench-hostile:
	@sh test/install-deps.sh $(BUILD_PKGS) $(BENCH_PKGS)
	$(MAKE) ferry
	$(PYTHON) bench/hostile.py

# mbedTLS's own ceilings here: AEAD MB/s and handshake CPU, in memory
# (~10 s), always from the optimised objects in build/.  It links ferry's
# own TLS choices (tls_config.c) and identity (ident.c).
CEILING_ARGS ?=
CEILING_OBJS  = tls_config.o tls_files.o tls_log.o ident.o log.o
.PHONY: bench-ceiling
build/bench-ceiling: bench/ceiling.c tls.h tls_config.h ident.h \
                     $(CEILING_OBJS:%=build/%)
	$(CC) $(CFLAGS) $(WARNFLAGS) $(REQFLAGS) -I. -o $@ bench/ceiling.c \
	    $(CEILING_OBJS:%=build/%) $(LDFLAGS) -pthread $(MBEDTLS_LIBS)

bench-ceiling: build/bench-ceiling
	./build/bench-ceiling $(CEILING_ARGS)

# ferry, nginx and lighttpd side by side: bulk, keep-alive, handshakes,
# memory and start-up, pinned and unpinned (~12 min; BENCH_ARGS=--quick
# for a short look), each figure also against the ceilings above.
# Its handshake client is on OpenSSL, as curl and wrk are.
BENCH_ARGS ?=
build/bench-hsclient: bench/hsclient.c | build
	$(CC) $(CFLAGS) $(WARNFLAGS) $(REQFLAGS) -o $@ bench/hsclient.c \
	    $(LDFLAGS) -lssl -lcrypto

bench:
	@sh test/install-deps.sh $(BUILD_PKGS) $(BENCH_PKGS)
	$(MAKE) ferry build/bench-ceiling build/bench-hsclient
	$(PYTHON) bench/bench.py $(BENCH_ARGS)

# ---------------------------------------------------------------------------
# Fuzzing: libFuzzer targets in test/fuzz/ (see test/fuzz/README.md).
#
#   make fuzz           build each target with ASan+UBSan in build-fuzz/ and
#                       run it FUZZ_SECONDS on a scratch copy of its corpus
#                       (build-fuzz/corpus/); any crash or finding fails
#   make fuzz-coverage  replay the corpora, and what fuzz runs added, with
#                       source coverage; print the line and branch coverage
#                       of the file under each target
#
# FUZZ_TARGETS=fuzz_http picks targets; FUZZ_ARGS adds libFuzzer options.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_ARGS     ?=
FUZZ_PROFDATA ?= llvm-profdata-14
FUZZ_COV      ?= llvm-cov-14
FUZZ_BUILD     = build-fuzz
FUZZ_TARGETS   = fuzz_http fuzz_chunked fuzz_range fuzz_cond fuzz_path
FUZZ_CFLAGS    = -g -O1 $(WARNFLAGS) -std=c11 -D_GNU_SOURCE -I.
FUZZ_SANFLAGS  = -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_COVFLAGS  = -fsanitize=fuzzer -fprofile-instr-generate \
                 -fcoverage-mapping

# The code each target links; coverage is reported for the first file.
FUZZ_fuzz_http_SRCS    = http.c
FUZZ_fuzz_chunked_SRCS = chunked.c
FUZZ_fuzz_range_SRCS   = range.c http.c
FUZZ_fuzz_cond_SRCS    = cond.c head.c http.c
FUZZ_fuzz_path_SRCS    = path.c

# A slow input is a finding too: work must stay bounded.
FUZZ_RUN_FLAGS = -timeout=10 -print_final_stats=1

define FUZZ_RULES
$(FUZZ_BUILD)/$(1): test/fuzz/$(1).c test/fuzz/fuzz.h $$(FUZZ_$(1)_SRCS) \
                    $$(wildcard *.h)
	@mkdir -p $(FUZZ_BUILD)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_SANFLAGS) -o $$@ \
	    test/fuzz/$(1).c $$(FUZZ_$(1)_SRCS)

$(FUZZ_BUILD)/cov/$(1): test/fuzz/$(1).c test/fuzz/fuzz.h \
                        $$(FUZZ_$(1)_SRCS) $$(wildcard *.h)
	@mkdir -p $(FUZZ_BUILD)/cov
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_COVFLAGS) -o $$@ \
	    test/fuzz/$(1).c $$(FUZZ_$(1)_SRCS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULES,$(t))))

# New inputs go to the scratch corpus, crashes to build-fuzz/findings/.
# One rule per target, so that `make -j2 fuzz` runs two at once.
fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-run-%: $(FUZZ_BUILD)/%
	@mkdir -p $(FUZZ_BUILD)/findings $(FUZZ_BUILD)/corpus/$*
	@cp test/fuzz/corpus/$*/* $(FUZZ_BUILD)/corpus/$*/
	@dict=; test -f test/fuzz/$*.dict && dict=-dict=test/fuzz/$*.dict; \
	./$(FUZZ_BUILD)/$* $(FUZZ_RUN_FLAGS) $$dict $(FUZZ_ARGS) \
	    -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(FUZZ_BUILD)/findings/$*- \
	    $(FUZZ_BUILD)/corpus/$* >$(FUZZ_BUILD)/$*.log 2>&1 || \
	    { tail -n 60 $(FUZZ_BUILD)/$*.log; \
	      echo "fuzz: $* found something: $(FUZZ_BUILD)/$*.log"; \
	      exit 1; }; \
	echo "== $*: $(FUZZ_SECONDS) s, no finding: $$(grep -E \
	    '^stat::number_of_executed_units' $(FUZZ_BUILD)/$*.log)"

# Each input is run once (-runs=0).  Per target, the first file of its
# code is reported; build-fuzz/cov/TARGET.txt shows what was missed.
FUZZ_REPORT = $(foreach t,$(FUZZ_TARGETS),$(t):$(firstword $(FUZZ_$(t)_SRCS)))

fuzz-coverage: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/cov/%)
	@command -v $(FUZZ_COV) >/dev/null || \
	    { echo "fuzz-coverage: needs $(FUZZ_COV): apt-get install llvm-14"; \
	      exit 1; }
	@for tf in $(FUZZ_REPORT); do \
	    t=$${tf%%:*}; f=$${tf#*:}; c=$(FUZZ_BUILD)/cov/$$t; \
	    dirs=test/fuzz/corpus/$$t; \
	    test -d $(FUZZ_BUILD)/corpus/$$t && \
	        dirs="$$dirs $(FUZZ_BUILD)/corpus/$$t"; \
	    rm -f $$c.profraw; \
	    LLVM_PROFILE_FILE=$$c.profraw ./$$c -runs=0 $$dirs >$$c.log 2>&1 || \
	        { tail -n 30 $$c.log; exit 1; }; \
	    $(FUZZ_PROFDATA) merge -sparse -o $$c.profdata $$c.profraw || exit 1; \
	    $(FUZZ_COV) show $$c -instr-profile=$$c.profdata -show-branches=count \
	        $$f >$$c.txt || exit 1; \
	    $(FUZZ_COV) report $$c -instr-profile=$$c.profdata $$f | \
	    awk -v t=$$t -v f=$$f '$$1 == "TOTAL" { printf "%-13s %-10s " \
	        "lines %7s (%d/%d)  branches %7s (%d/%d)\n", t, f, \
	        $$10, $$8 - $$9, $$8, $$13, $$11 - $$12, $$11 }'; \
	done
