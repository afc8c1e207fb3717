/* fuzz_request_decode.c: libFuzzer target for the request path of the Kafka codec.
 *
 * An input is one request frame without its size prefix, as the broker receives it: a request
 * header (impl/protocol/header.c), then the body, decoded by api key and version through the
 * generated dispatch (impl/protocol/messages_generated.c). ApiVersions requests also go through
 * the handler (impl/protocol/api_versions.c), whose answer must be a well-formed frame.
 *
 * Besides "no crash, no over-read" (ASan, UBSan), the oracle is stability: whatever decodes must
 * re-encode, the re-encoding must decode, and encoding that again must give identical bytes.
 * Any violation aborts, which libFuzzer reports as a crash.
 *
 * Built and run by tests/fuzz/run_fuzz.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/protocol/api_versions.h"
#include "../../impl/protocol/codec.h"
#include "../../impl/protocol/header.h"
#include "../../impl/protocol/messages_generated.h"

#define FUZZ_ARENA_SIZE (1u << 20)
#define FUZZ_OUT_SIZE (4u << 20)

static u8 arena_first[FUZZ_ARENA_SIZE];
static u8 arena_second[FUZZ_ARENA_SIZE];
static u8 out_first[FUZZ_OUT_SIZE];
static u8 out_second[FUZZ_OUT_SIZE];
static union kafka_request request_first;
static union kafka_request request_second;

static void fuzz_fail(const char *what, const struct proto_request_header *header)
{
    fprintf(stderr, "fuzz oracle: %s (api %d v%d)\n", what, header->RequestApiKey,
            header->RequestApiVersion);
    abort();
}

static void fuzz_api_versions(const struct proto_request_header *header,
                              struct proto_reader body)
{
    static u8 frame[1 << 16];
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    if (proto_api_versions_respond(proto_api_table, header, &body, &writer) != PROTO_OK) return;
    u32 body_size = 0;
    if (proto_frame_peek(frame, writer.position, sizeof(frame), &body_size) !=
        PROTO_FRAME_READY) {
        fuzz_fail("ApiVersions answer is not one frame", header);
    }
    if (body_size + PROTO_FRAME_PREFIX_SIZE != writer.position) {
        fuzz_fail("ApiVersions frame size", header);
    }
}

/* Encodes request at the header's version into out; returns the size or aborts. */
static u32 fuzz_encode(const struct proto_request_header *header,
                       const union kafka_request *request, u8 *out)
{
    struct proto_writer writer;
    proto_writer_init(&writer, out, FUZZ_OUT_SIZE);
    enum proto_error error = kafka_request_encode(&writer, header->RequestApiKey,
                                                  header->RequestApiVersion, request);
    if (error != PROTO_OK) fuzz_fail(proto_error_name(error), header);
    return writer.position;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
    if (size > UINT32_MAX) return 0;
    struct proto_reader reader;
    proto_reader_init(&reader, size == 0 ? NULL : data, (u32)size);
    struct proto_request_header header;
    if (proto_request_header_decode(&reader, &header) != PROTO_OK) return 0;
    if (header.RequestApiKey == KAFKA_API_API_VERSIONS) fuzz_api_versions(&header, reader);

    struct proto_arena arena;
    proto_arena_init(&arena, arena_first, FUZZ_ARENA_SIZE);
    if (kafka_request_decode(&reader, header.RequestApiKey, header.RequestApiVersion,
                             &request_first, &arena) != PROTO_OK) {
        return 0;
    }
    u32 size_first = fuzz_encode(&header, &request_first, out_first);

    struct proto_reader again;
    proto_reader_init(&again, out_first, size_first);
    proto_arena_init(&arena, arena_second, FUZZ_ARENA_SIZE);
    if (kafka_request_decode(&again, header.RequestApiKey, header.RequestApiVersion,
                             &request_second, &arena) != PROTO_OK) {
        fuzz_fail("re-encoding does not decode", &header);
    }
    if (again.position != size_first) fuzz_fail("re-encoding not fully consumed", &header);
    u32 size_second = fuzz_encode(&header, &request_second, out_second);
    if (size_second != size_first || memcmp(out_first, out_second, size_first) != 0) {
        fuzz_fail("encode(decode(encode(x))) differs from encode(x)", &header);
    }
    return 0;
}
