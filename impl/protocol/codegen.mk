# impl/protocol/codegen.mk: make rules for the generated Kafka protocol codec (included by the
# top Makefile).
#
# The generated files are committed, so a build needs neither the schemas nor python3. When the
# schemas are present beside the project (../shared/kafka-protocol/messages) and python3 is on
# PATH, the files are regenerated whenever a schema, the error-code table or the generator is
# newer than them. Without either, no rule exists and make uses the committed files as sources,
# whatever their modification times (a fresh clone works).
#
#   make protocol-generate   regenerate now (needs the schemas and python3)
#   make fuzz-protocol       build and run the request-decoder fuzz target (clang, 30 s)

PROTOCOL_SHARED ?= ../shared/kafka-protocol
PROTOCOL_SCHEMAS := $(wildcard $(PROTOCOL_SHARED)/messages/*.json)
PROTOCOL_ERROR_CODES := $(wildcard $(PROTOCOL_SHARED)/error-codes.tsv)
PROTOCOL_PYTHON := $(shell command -v python3 2>/dev/null)
PROTOCOL_GENERATED := impl/protocol/messages_generated.h impl/protocol/messages_generated.c \
                      impl/protocol/errors_generated.h impl/protocol/errors_generated.c \
                      tests/unit/test_protocol_generated.h
PROTOCOL_GENERATE = $(PROTOCOL_PYTHON) impl/protocol/generate.py $(PROTOCOL_SHARED)/messages \
                    $(PROTOCOL_SHARED)/error-codes.tsv impl/protocol \
                    tests/unit/test_protocol_generated.h

.PHONY: protocol-generate fuzz-protocol

ifneq ($(and $(PROTOCOL_SCHEMAS),$(PROTOCOL_ERROR_CODES),$(PROTOCOL_PYTHON)),)
$(PROTOCOL_GENERATED) &: impl/protocol/generate.py $(PROTOCOL_SCHEMAS) $(PROTOCOL_ERROR_CODES)
	$(PROTOCOL_GENERATE)

protocol-generate:
	$(PROTOCOL_GENERATE)
else
protocol-generate:
	@echo "protocol-generate: needs $(PROTOCOL_SHARED)/messages/*.json," \
	      "$(PROTOCOL_SHARED)/error-codes.tsv and python3" >&2
	@exit 1
endif

fuzz-protocol:
	B=$(B) tests/fuzz/run_fuzz.sh
