/* broker_producer_ids.c: InitProducerId for idempotent producers (KIP-98), with ids in blocks
 * from the active controller (KIP-730, Kafka's RPCProducerIdManager).
 *
 * The broker asks for a block of ids (1000) with AllocateProducerIds over
 * its controller link when the first producer asks, and for the next block once 90% of the
 * current one is handed out. Until a block is at hand, InitProducerId answers
 * COORDINATOR_LOAD_IN_PROGRESS, which every client retries. A block is the broker's once the
 * controller has committed the record that moves the cluster's next id past it, so ids never
 * repeat, across restarts and controller failovers alike; a block lost with a crash is skipped.
 *
 * Transactions are not built: a transactional id is answered COORDINATOR_NOT_AVAILABLE.
 *
 * Tested by tests/unit/test_broker.c (init_producer_id_*) and
 * tests/integration/kafka_idempotence.sh. */
#include "broker_internal.h"

#define PRODUCER_IDS_PREFETCH_LEFT 100 /* A tenth of the controller's block of 1000. */
#define PRODUCER_IDS_VERSION 0

static void producer_ids_request(struct broker *broker)
{
    struct broker_producer_ids *ids = &broker->producer_ids;
    if (ids->correlation >= 0 || ids->spare_end > ids->spare_start) return;
    if (ids->end - ids->next > PRODUCER_IDS_PREFETCH_LEFT) return;
    union kafka_request body;
    kafka_allocate_producer_ids_request_init(&body.AllocateProducerIds);
    body.AllocateProducerIds.BrokerId = broker->config.node_id;
    body.AllocateProducerIds.BrokerEpoch = broker->link.broker_epoch;
    ids->correlation = broker_link_request(broker, KAFKA_API_ALLOCATE_PRODUCER_IDS,
                                           PRODUCER_IDS_VERSION, &body);
}

bool broker_producer_ids_awaits(const struct broker *broker, i32 correlation)
{
    return broker->producer_ids.correlation >= 0 &&
           broker->producer_ids.correlation == correlation;
}

void broker_producer_ids_on_answer(struct broker *broker, struct proto_reader *reader)
{
    struct broker_producer_ids *ids = &broker->producer_ids;
    ids->correlation = -1;
    if (reader == NULL) return; /* The link was lost: the next InitProducerId asks again. */
    struct proto_arena arena;
    u8 memory[128];
    proto_arena_init(&arena, memory, sizeof(memory));
    i32 ignored = 0;
    union kafka_response response;
    if (proto_response_header_decode(reader, KAFKA_API_ALLOCATE_PRODUCER_IDS,
                                     PRODUCER_IDS_VERSION, &ignored) != PROTO_OK ||
        kafka_response_decode(reader, KAFKA_API_ALLOCATE_PRODUCER_IDS, PRODUCER_IDS_VERSION,
                              &response, &arena) != PROTO_OK) {
        io_log(broker->io, IO_LOG_WARN, "broker: unreadable AllocateProducerIds answer");
        return;
    }
    const struct kafka_allocate_producer_ids_response *block = &response.AllocateProducerIds;
    if (block->ErrorCode != KAFKA_ERROR_NONE) {
        io_log(broker->io, IO_LOG_WARN, "broker: the controller gave no producer ids: %s",
               kafka_error_name(block->ErrorCode));
        return;
    }
    if (block->ProducerIdStart < 0 || block->ProducerIdLen <= 0 ||
        block->ProducerIdStart > INT64_MAX - block->ProducerIdLen ||
        block->ProducerIdStart < ids->end) {
        io_log(broker->io, IO_LOG_WARN, "broker: ignoring producer id block [%lld, +%d)",
               (long long)block->ProducerIdStart, block->ProducerIdLen);
        return;
    }
    ids->spare_start = block->ProducerIdStart;
    ids->spare_end = block->ProducerIdStart + block->ProducerIdLen;
    io_log(broker->io, IO_LOG_INFO, "broker: producer ids [%lld, %lld) from the controller",
           (long long)ids->spare_start, (long long)ids->spare_end);
}

/* The next id, or -1 when no block is at hand (one is asked for). */
static i64 producer_ids_take(struct broker *broker)
{
    struct broker_producer_ids *ids = &broker->producer_ids;
    if (ids->next == ids->end && ids->spare_end > ids->spare_start) {
        ids->next = ids->spare_start;
        ids->end = ids->spare_end;
        ids->spare_start = ids->spare_end = 0;
    }
    i64 id = -1;
    if (ids->next < ids->end) id = ids->next++;
    producer_ids_request(broker);
    return id;
}

bool broker_handle_init_producer_id(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body)
{
    i16 version = header->RequestApiVersion;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_init_producer_id_request request;
    if (kafka_init_producer_id_request_decode(body, version, &request, &decode) != PROTO_OK) {
        return false;
    }
    union kafka_response response;
    kafka_init_producer_id_response_init(&response.InitProducerId);
    struct kafka_init_producer_id_response *answer = &response.InitProducerId;
    answer->ProducerId = -1;
    answer->ProducerEpoch = -1;
    bool has_id = version >= 3 && request.ProducerId >= 0;
    bool has_epoch = version >= 3 && request.ProducerEpoch >= 0;
    if (request.TransactionalId.size >= 0) {
        answer->ErrorCode = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE; /* No transactions yet. */
    } else if (has_id != has_epoch) {
        answer->ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
    } else {
        /* Without a transactional id every call gets a new id at epoch 0, as in Kafka: the
         * producer id and epoch a v3+ request carries are not bumped. */
        i64 id = producer_ids_take(broker);
        answer->ErrorCode = id < 0 ? KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS : KAFKA_ERROR_NONE;
        answer->ProducerId = id;
        answer->ProducerEpoch = id < 0 ? -1 : 0;
    }
    broker_send_response(broker, conn, header, &response);
    return true;
}
