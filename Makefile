# The whole build. `make` builds everything into build/; `make run` runs the default scenario and
# writes its report; `make test` runs every test; `make bench` prints the figures.
#
# Three variants of the same sources:
#   build/            release (-O2), for make run, make bench and production
#   build/debug/      -O0 with AddressSanitizer + UndefinedBehaviorSanitizer, for make test
#   build/o0/         -O0 without sanitizers, to compare trace hashes against release
# Sources are found by wildcard, so a new .c file in impl/, sim/ or model/ needs no edit here.

SHELL := /bin/bash
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

DEB_PACKAGES := gcc make libzstd-dev zstd libjemalloc-dev graphviz procps zlib1g-dev liblz4-dev \
                libsnappy-dev python3 clang libclang-rt-14-dev python3-confluent-kafka python3-kafka kcat \
                librdkafka-dev
DEFAULT_SCENARIO ?= scenarios/quorum-partition-leader.scn
SEED ?= 7
SWEEP_SEEDS ?= 1..200
SWEEP_ALL_SEEDS ?= 1..1000

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wformat=2 \
            -Wno-format-nonliteral
CFLAGS_COMMON := -std=c17 $(WARNINGS) -D_GNU_SOURCE -g -MMD -MP $(EXTRA_CFLAGS)
CFLAGS_release := -O2
CFLAGS_debug := -O0 -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
CFLAGS_o0 := -O0
LDFLAGS_debug := -fsanitize=address,undefined
LIBS := -lzstd -lz -llz4 -lsnappy -lm

# B moves the whole build elsewhere (e.g. B=/tmp/mybuild), so parallel work does not collide.
B ?= build
DIR_release := $(B)
DIR_debug := $(B)/debug
DIR_o0 := $(B)/o0

RUNTIME_SRC := $(wildcard impl/runtime/*.c)
IMPL_SRC := $(filter-out $(RUNTIME_SRC),$(wildcard impl/*.c impl/*/*.c))
MODEL_SRC := $(wildcard model/*.c)
SIM_SRC := $(filter-out sim/ksim_main.c,$(wildcard sim/*.c))
RUNTIME_LIB_SRC := $(filter-out impl/runtime/kbroker_main.c impl/runtime/%_tool.c,$(RUNTIME_SRC))
TOOL_SRC := $(wildcard impl/runtime/*_tool.c)
UNIT_TEST_SRC := $(wildcard tests/unit/test_*.c)

CORE_SRC := $(IMPL_SRC) $(MODEL_SRC)

objects = $(patsubst %.c,$(DIR_$(1))/obj/%.o,$(2))

.PHONY: all deps build release debug o0 run test test-unit bench docs sweep sweep-all clean tidy
.DEFAULT_GOAL := all

all: deps release

# ----- Dependencies: install what is missing, as root (CI) or through sudo. -----
deps: build/.deps-ok
build/.deps-ok: Makefile
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || \
	    { echo "make deps: could not install:$$missing" >&2; exit 1; }; \
	fi
	@mkdir -p build && touch $@

# Generated sources (the Kafka protocol codec) bring their own rules.
-include impl/protocol/codegen.mk

# ----- One template per variant -----
define VARIANT_RULES
$(DIR_$(1))/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_COMMON) $$(CFLAGS_$(1)) -c $$< -o $$@

$(DIR_$(1))/ksim: $(call objects,$(1),$(CORE_SRC) $(SIM_SRC) sim/ksim_main.c)
	$$(CC) $$(LDFLAGS_$(1)) $$^ -o $$@ $$(LIBS)

$(DIR_$(1))/kbroker: $(call objects,$(1),$(CORE_SRC) $(RUNTIME_LIB_SRC) impl/runtime/kbroker_main.c)
	$$(CC) $$(LDFLAGS_$(1)) $$^ -o $$@ $$(LIBS) $(if $(filter release,$(1)),-ljemalloc)

$(DIR_$(1))/%_tool: $(call objects,$(1),$(CORE_SRC) $(RUNTIME_LIB_SRC)) $(DIR_$(1))/obj/impl/runtime/%_tool.o
	$$(CC) $$(LDFLAGS_$(1)) $$^ -o $$@ $$(LIBS)

$(DIR_$(1))/tests/%: $(call objects,$(1),$(CORE_SRC) $(SIM_SRC) $(RUNTIME_LIB_SRC)) $(DIR_$(1))/obj/tests/unit/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_$(1)) $$^ -o $$@ $$(LIBS)

-include $(shell find $(DIR_$(1))/obj -name '*.d' 2>/dev/null)
endef
$(foreach v,release debug o0,$(eval $(call VARIANT_RULES,$(v))))

TOOLS = $(patsubst impl/runtime/%.c,%,$(TOOL_SRC))
release: deps $(B)/ksim $(B)/kbroker $(addprefix $(B)/,$(TOOLS))
debug: deps $(B)/debug/ksim $(B)/debug/kbroker $(addprefix $(B)/debug/,$(TOOLS)) \
       $(patsubst tests/unit/%.c,$(B)/debug/tests/%,$(UNIT_TEST_SRC))
o0: deps $(B)/o0/ksim
build: release

# ----- The main job -----
run: release
	@mkdir -p reports/runs
	$(B)/ksim run $(DEFAULT_SCENARIO) --seed $(SEED) --report reports/runs
	@echo "report written under reports/runs/"

# ----- Tests -----
test: deps
	$(MAKE) --no-print-directory -j2 release debug o0
	tests/run_all.sh

test-unit: debug
	tests/run_unit.sh

sweep: release
	$(B)/ksim sweep $(DEFAULT_SCENARIO) --seeds $(SWEEP_SEEDS) --jobs 2

# Every scenario over many seeds (CI runs 200 per scenario; this is the larger sweep).
sweep-all: release
	@start=$$(date +%s); for s in scenarios/*.scn; do \
	    echo "== $$s"; $(B)/ksim sweep $$s --seeds $(SWEEP_ALL_SEEDS) --jobs 2 || exit 1; done; \
	echo "all scenarios, seeds $(SWEEP_ALL_SEEDS): $$(( $$(date +%s) - start )) s wall"

bench: release $(B)/crc32c_bench
	tests/bench/run_bench.sh

# The Kafka load generator of make bench (tests/bench/kafka_bench.sh): a librdkafka client, so it
# links none of the project's objects.
$(B)/kafka_load: tests/bench/kafka_load.c | deps
	@mkdir -p $(dir $@)
	$(CC) -std=c17 $(WARNINGS) -D_GNU_SOURCE -O2 -g $< -o $@ -lrdkafka -lpthread

# The CRC-32C benchmark of make bench (tests/bench/crc32c_bench.c), linked with the release
# build's own crc32c.o so that it measures the code kbroker runs.
$(B)/crc32c_bench: tests/bench/crc32c_bench.c \
                  $(call objects,release,impl/log/crc32c.c impl/base.c) | deps
	@mkdir -p $(dir $@)
	$(CC) -std=c17 $(WARNINGS) -D_GNU_SOURCE -O2 -g $^ -o $@

docs: deps
	for f in reports/diagrams/*.dot impl/*/*.dot; do \
	    [ -e "$$f" ] || continue; dot -Tsvg "$$f" -o "$${f%.dot}.svg" || exit 1; done
	@echo "diagrams rendered next to their .dot sources (SVG)"

tidy:
	tests/tidy.sh

clean:
	rm -rf build
