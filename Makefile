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

# mbedTLS and libcrypt are linked statically, in this order, so ./ferry
# needs only libc.
MBEDTLS_LIBS = -Wl,-Bstatic -lmbedtls -lmbedx509 -lmbedcrypto -lcrypt -Wl,-Bdynamic

SRCS = server.c worker.c options.c conn.c conn_body.c conn_gate.c \
       verify.c access.c respond.c body.c \
       chunked.c upload.c tidy.c tls.c tls_files.c tls_config.c tls_log.c \
       ident.c http.c head.c files.c path.c \
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
             python3-pytest python3-requests chromium media-types \
             apache2-utils whois testssl.sh sslscan

# Unit tests: each links its module and nothing else (log.c for logging).
UNIT_TESTS = test_http test_head test_range test_path test_listing test_mime \
             test_chunked test_upload test_roles test_auth
test_http_OBJS    = http.o guard.o cases.o
test_head_OBJS    = head.o guard.o
test_mime_OBJS    = mime.o
test_range_OBJS   = range.o cond.o http.o head.o guard.o
test_path_OBJS    = path.o guard.o
test_listing_OBJS = listing.o accept.o page.o files.o path.o guard.o
test_chunked_OBJS = chunked.o guard.o cases.o
test_upload_OBJS  = upload.o tidy.o files.o cond.o http.o head.o path.o
test_roles_OBJS   = roles.o
test_auth_OBJS    = auth.o auth_cache.o http.o guard.o cases.o

.PHONY: all asan test unit e2e lint run deps build-deps browser-deps clean \
        clean-objs bench-login

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
	./ferry --port $(PORT) $(if $(BIND),--bind $(BIND)) $(DIR)

# Unit tests and end-to-end tests run against the ASan+UBSan build.
test: deps
	$(MAKE) lint
	$(MAKE) SANITIZE=1 unit e2e

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
	rm -rf build build-asan build-clang

clean: clean-objs
	rm -f ferry

-include $(wildcard build/*.d build-asan/*.d build-clang/*.d)

# Benchmarks (bench/README.md); they print figures and assert nothing.
bench-login:
	$(MAKE) ferry
	$(PYTHON) bench/login.py
