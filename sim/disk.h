/* disk.h: one simulated process's disk, a namespace of files with explicit durability.
 *
 * Each file holds two images: the durable one (what survives a crash) and the current one (what
 * reads see), plus the list of unsynced operations (writes, truncates) applied to the current
 * image since the last sync, in completion order. A sync makes durable the pending operations
 * issued before it. A crash rebuilds each file from its durable image plus a seed-chosen prefix
 * of the unsynced operations, may tear the next write at a 512-byte sector boundary, and drops
 * the rest. Metadata operations (creating a file by opening it, rename, remove) are durable when
 * they complete, as on a journaling file system with an fsync of the directory.
 *
 * This module is a pure data structure: latency and completion scheduling live in io_sim.c.
 * Files are named by their slot index, stable while anything refers to the file.
 *
 * May depend on: impl/base.h, impl/io.h, sim/prng.h. */
#ifndef SIM_DISK_H
#define SIM_DISK_H

#include "../impl/io.h"
#include "prng.h"

#define DISK_SECTOR_SIZE 512u
#define DISK_FILES_MAX 65536u

enum disk_pending_kind { DISK_PENDING_WRITE, DISK_PENDING_TRUNCATE };

struct disk_pending {
    enum disk_pending_kind kind;
    u64 offset; /* WRITE: where. TRUNCATE: the new size. */
    u32 size;
    u8 *bytes;
    u64 issue_seq; /* Order of issue, to know which ops a sync covers. */
};

struct disk_image {
    u8 *bytes;
    u64 size;
    u64 capacity;
};

struct disk_file {
    char path[IO_PATH_MAX];
    bool used;   /* Slot holds a file. */
    bool linked; /* Reachable by path (not removed or replaced). */
    u32 refs;    /* Open handles plus operations in flight: an unlinked file lives on. */
    struct disk_image durable;
    struct disk_image current;
    struct disk_pending *pending;
    u32 pending_count;
    u32 pending_capacity;
    u64 settled_by_ns; /* Latest completion time of writes/truncates issued so far (io_sim). */
};

struct disk_stats {
    u64 bytes_lost_to_crash;
    u64 writes_torn;
    u64 sectors_corrupted;
};

struct disk {
    struct disk_file *files;
    u32 file_count; /* Slots in use or freed, in creation order. */
    u32 file_capacity;
    u64 issue_seq_next;
    struct disk_stats stats;
};

void disk_init(struct disk *disk);
void disk_free(struct disk *disk);

/* The slot of the linked file at path, or -1. */
i32 disk_find(const struct disk *disk, const char *path);
/* Creates an empty file at path (durable at once); the path must not be linked. */
u32 disk_create(struct disk *disk, const char *path);
u64 disk_issue_seq(struct disk *disk); /* Stamps an operation at issue time. */

void disk_ref(struct disk *disk, u32 file);
void disk_unref(struct disk *disk, u32 file);

/* Applied at completion: visible to reads at once, durable after a covering sync. */
void disk_write(struct disk *disk, u32 file, u64 offset, const u8 *bytes, u32 size,
                u64 issue_seq);
void disk_truncate(struct disk *disk, u32 file, u64 size, u64 issue_seq);
/* Makes durable every pending op issued before sync_issue_seq. */
void disk_sync(struct disk *disk, u32 file, u64 sync_issue_seq);
/* Reads from the current image; returns the bytes read (short at end of file). */
u32 disk_read(const struct disk *disk, u32 file, u64 offset, u8 *buffer, u32 size);
u64 disk_size(const struct disk *disk, u32 file);

enum io_result disk_rename(struct disk *disk, const char *source, const char *target);
enum io_result disk_remove(struct disk *disk, const char *path);
/* Directories are implied by the paths of files: one is removable (IO_OK) when no linked file
 * lies anywhere under it, else IO_ERR_NOT_EMPTY. */
enum io_result disk_remove_directory(const struct disk *disk, const char *path);
/* Names (each '\0'-terminated, sorted) of linked files directly inside directory ("" or "."
 * is the root). IO_ERR_LIMIT when they do not fit. */
enum io_result disk_list(const struct disk *disk, const char *directory, u8 *buffer,
                         u32 buffer_size, u32 *used, u32 *count);

/* The process crashed: keep durable data plus a chosen prefix of unsynced ops, maybe tear the
 * next write, forget unlinked files. Every ref must already be dropped. */
void disk_crash(struct disk *disk, struct prng *prng);
/* Flips one bit in each of count randomly chosen durable sectors; returns sectors hit. */
u32 disk_corrupt(struct disk *disk, struct prng *prng, u32 count);

#endif
