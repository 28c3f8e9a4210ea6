# mod_auth_msoauth: build, test, demo, install.
#   make          build build/mod_auth_msoauth.so
#   make test     install missing Debian packages, build, run unit + integration tests
#   make demo     install missing packages, build, run Apache with the mock Microsoft sign-in
#   make bench    signed-in request rate against plain Apache (wrk, loopback)
#   make install  install the module with apxs (then: a2enmod auth_msoauth)

APXS     ?= apxs
PYTHON   ?= /usr/bin/python3
BUILD    := build
MODULE   := $(BUILD)/mod_auth_msoauth.so

APXS_INC := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
APR_INC  := $(shell apr-1-config --includes 2>/dev/null) $(shell apu-1-config --includes 2>/dev/null)
APR_CPP  := $(shell apr-1-config --cppflags 2>/dev/null)
DEP_CFLAGS := $(shell pkg-config --cflags libcurl jansson cjose libcrypto icu-i18n icu-uc 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs libcurl jansson cjose libcrypto icu-i18n icu-uc 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -fPIC -std=gnu99 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
            -fstack-protector-strong -D_FORTIFY_SOURCE=2
CPPFLAGS += -I$(APXS_INC) $(APR_INC) $(APR_CPP) $(DEP_CFLAGS) -Isrc

# Pure files: no httpd types, unit-tested without a server.
PURE_SRC := src/random.c src/seal.c src/url.c src/json.c src/identity.c src/pending.c \
            src/idtoken.c src/token.c src/discovery.c src/http.c src/provider.c src/secret.c \
            src/outbound.c src/easyauth.c src/groups.c src/tokens.c src/timezone.c \
            src/profile.c
# Adapters: touch request_rec; covered by the integration tests.
ADAPTER_SRC := src/authn.c src/login.c src/callback.c src/session.c src/exports.c src/page.c \
               src/checkconf.c src/inbound.c src/authz.c src/logout.c \
               src/tokenstore.c src/info.c src/photo.c
GLUE_SRC := mod_auth_msoauth.c

PURE_OBJ    := $(PURE_SRC:%.c=$(BUILD)/%.o)
ADAPTER_OBJ := $(ADAPTER_SRC:%.c=$(BUILD)/%.o) $(GLUE_SRC:%.c=$(BUILD)/%.o)
HEADERS     := $(wildcard src/*.h)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_LIBS := $(DEP_LIBS) $(shell apr-1-config --link-ld 2>/dev/null) $(shell apu-1-config --link-ld 2>/dev/null) -lcmocka

.PHONY: all deps test unit integration demo bench install clean

all: $(MODULE)

deps:
	@sh scripts/deps.sh

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(MODULE): $(PURE_OBJ) $(ADAPTER_OBJ)
	$(CC) -shared -o $@ $^ $(DEP_LIBS) -Wl,-z,relro -Wl,-z,now

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(PURE_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(PURE_OBJ) $(UNIT_LIBS)

# Every binary runs even when one fails; the target fails if any did.
unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do $$t || failed=1; done; exit $$failed

integration: $(MODULE)
	MSOAUTH_MODULE=$(CURDIR)/$(MODULE) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	MSOAUTH_MODULE=$(CURDIR)/$(MODULE) $(PYTHON) demo/demo.py

# Not part of make test: timings belong in a benchmark, not in assertions. Needs Debian's wrk.
bench: deps
	$(MAKE) all
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null)
	MSOAUTH_MODULE=$(CURDIR)/$(MODULE) $(PYTHON) bench/bench.py

install: $(MODULE)
	$(APXS) -i -n auth_msoauth $(MODULE)

clean:
	rm -rf $(BUILD)
