/* fuzz_response_decode.c: libFuzzer target for the response path of the Kafka codec, which
 * simulated clients and brokers use on what their peers send back.
 *
 * An input is an api key (int16), a version (int16) and a response body, decoded through the
 * generated dispatch (impl/protocol/messages_generated.c). The oracle is the same as for
 * requests: no crash or over-read (ASan, UBSan), and whatever decodes re-encodes, decodes again
 * and encodes to identical bytes. Any violation aborts.
 *
 * Built and run by tests/fuzz/run_fuzz.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/protocol/codec.h"
#include "../../impl/protocol/messages_generated.h"

#define FUZZ_ARENA_SIZE (1u << 20)
#define FUZZ_OUT_SIZE (4u << 20)

static u8 arena_first[FUZZ_ARENA_SIZE];
static u8 arena_second[FUZZ_ARENA_SIZE];
static u8 out_first[FUZZ_OUT_SIZE];
static u8 out_second[FUZZ_OUT_SIZE];
static union kafka_response response_first;
static union kafka_response response_second;

static void fuzz_fail(const char *what, i16 api_key, i16 version)
{
    fprintf(stderr, "fuzz oracle: %s (api %d v%d)\n", what, api_key, version);
    abort();
}

static u32 fuzz_encode(i16 api_key, i16 version, const union kafka_response *response, u8 *out)
{
    struct proto_writer writer;
    proto_writer_init(&writer, out, FUZZ_OUT_SIZE);
    enum proto_error error = kafka_response_encode(&writer, api_key, version, response);
    if (error != PROTO_OK) fuzz_fail(proto_error_name(error), api_key, version);
    return writer.position;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
    if (size < 4 || size > UINT32_MAX) return 0;
    i16 api_key = (i16)load_u16_be(data);
    i16 version = (i16)load_u16_be(data + 2);
    struct proto_reader reader;
    proto_reader_init(&reader, data + 4, (u32)size - 4);
    struct proto_arena arena;
    proto_arena_init(&arena, arena_first, FUZZ_ARENA_SIZE);
    if (kafka_response_decode(&reader, api_key, version, &response_first, &arena) != PROTO_OK) {
        return 0;
    }
    u32 size_first = fuzz_encode(api_key, version, &response_first, out_first);

    struct proto_reader again;
    proto_reader_init(&again, out_first, size_first);
    proto_arena_init(&arena, arena_second, FUZZ_ARENA_SIZE);
    if (kafka_response_decode(&again, api_key, version, &response_second, &arena) != PROTO_OK) {
        fuzz_fail("re-encoding does not decode", api_key, version);
    }
    if (again.position != size_first) fuzz_fail("re-encoding not fully consumed", api_key, version);
    u32 size_second = fuzz_encode(api_key, version, &response_second, out_second);
    if (size_second != size_first || memcmp(out_first, out_second, size_first) != 0) {
        fuzz_fail("encode(decode(encode(x))) differs from encode(x)", api_key, version);
    }
    return 0;
}
