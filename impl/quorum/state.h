/* state.h: the quorum's durable election state: current epoch, the vote cast in it, the leader.
 *
 * Raft's safety rests on a voter never voting twice in one epoch, across crashes. The state is
 * written to "quorum/state" and synced before the quorum acts on it (grants a vote, counts its
 * own vote, fetches from a newly adopted leader).
 *
 * Format: two 512-byte slots (offsets 0 and 512), each {magic u32 "KQS1", sequence u64, epoch
 * i32, voted_for i32, leader i32, flags u32, crc32c u32} big-endian. A write goes to the
 * slot the newest sequence does not occupy, with pwrite then fsync; recovery takes the valid
 * slot with the highest sequence. A write torn by a crash therefore falls back to the previous
 * state, which is exactly what was durable before the write, and nothing acted on the torn one.
 * (A durable slot corrupted later by a disk fault also falls back: unavoidable without a
 * second copy elsewhere, and logged.)
 *
 * May depend on: base.h, io.h. */
#ifndef QUORUM_STATE_H
#define QUORUM_STATE_H

#include "../io.h"

#define QUORUM_STATE_PATH "quorum/state"
#define QUORUM_STATE_SLOT_SIZE 512u
#define QUORUM_STATE_RECORD_SIZE 32u

/* Flag: recovery found synced data damaged, so the node abstains from elections until it has
 * caught up with a leader. Durable, because the evidence (a corrupt tail) is cut away. */
#define QUORUM_STATE_ABSTAIN 1u

struct quorum_election_state {
    i32 epoch;
    i32 voted_for; /* -1: no vote in this epoch. */
    i32 leader;    /* -1: unknown. */
    u32 flags;     /* QUORUM_STATE_ABSTAIN */
};

enum quorum_store_op { STORE_OP_NONE, STORE_OP_OPEN, STORE_OP_READ, STORE_OP_WRITE,
                       STORE_OP_SYNC };
enum quorum_store_event { STORE_EVENT_NONE, STORE_EVENT_RECOVERED, STORE_EVENT_DURABLE,
                          STORE_EVENT_ERROR };

struct quorum_store {
    struct io *io;
    u64 user_data_tag;
    io_file file;
    bool recovered;
    bool failed;
    bool damaged; /* A slot held bytes that are not a valid record: the vote may be lost. */
    enum quorum_store_op op;
    struct quorum_election_state durable;  /* What a crash now would recover. */
    struct quorum_election_state desired;  /* What the quorum last asked for. */
    struct quorum_election_state in_flight;
    u64 sequence;                          /* Of the durable record. */
    u8 read_buffer[2 * QUORUM_STATE_SLOT_SIZE];
    u8 write_buffer[QUORUM_STATE_RECORD_SIZE];
};

void quorum_store_init(struct quorum_store *store, struct io *io, u64 user_data_tag);
void quorum_store_open(struct quorum_store *store);
enum quorum_store_event quorum_store_on_file(struct quorum_store *store,
                                             const struct io_completion *completion);
/* Asks for state to become durable; STORE_EVENT_DURABLE follows (perhaps for a later ask). */
void quorum_store_set(struct quorum_store *store, const struct quorum_election_state *state);
bool quorum_store_is_durable(const struct quorum_store *store,
                             const struct quorum_election_state *state);
void quorum_store_retry(struct quorum_store *store);

/* Pure codec, for tests. */
void quorum_state_encode(u8 *target, u64 sequence, const struct quorum_election_state *state);
WARN_UNUSED bool quorum_state_decode(const u8 *bytes, u64 *sequence,
                                     struct quorum_election_state *state);

#endif
