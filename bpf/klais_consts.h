/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Constants shared by the XDP program and user space (src/Klais.Xdp/Native/BpfConstants.cs mirrors them;
 * a test reads both). Wire format: docs/wire-protocol.md.
 */
#ifndef KLAIS_CONSTS_H
#define KLAIS_CONSTS_H

/* Datagram header: magic u16 BE | device_id 16 bytes | sequence u32 BE, then the JSON payload. */
#define KLAIS_MAGIC_0 0xAA
#define KLAIS_MAGIC_1 0x55
#define KLAIS_DEVICE_ID_OFFSET 2
#define KLAIS_DEVICE_ID_LEN 16
#define KLAIS_SEQUENCE_OFFSET 18
#define KLAIS_HEADER_LEN 22

/* FNV-1a 64 (docs/wire-protocol.md, tests/vectors/device_key.txt). */
#define KLAIS_FNV_OFFSET_BASIS 0xcbf29ce484222325ULL
#define KLAIS_FNV_PRIME 0x100000001b3ULL

/* Outcomes: the index of each counter in the per-CPU `statistics` array. Every packet the program sees is
 * counted under exactly one of the first six; EVENTS_LOST counts ring-buffer reservations that failed. */
enum klais_stat {
    KLAIS_STAT_PASSED = 0,         /* a KLAIS datagram that passed every check */
    KLAIS_STAT_DROPPED_SIZE = 1,   /* UDP payload shorter than the 22-byte header */
    KLAIS_STAT_DROPPED_MAGIC = 2,  /* first two payload bytes are not AA 55 */
    KLAIS_STAT_DROPPED_BLOCKED = 3,/* device key on the blocklist (entry not expired) */
    KLAIS_STAT_DROPPED_RATE = 4,   /* device's token bucket empty */
    KLAIS_STAT_NOT_KLAIS = 5,      /* anything else: not IP/UDP, another port, fragments, truncated headers */
    KLAIS_STAT_EVENTS_LOST = 6,    /* an event was due but the ring buffer was full */
    KLAIS_STAT_COUNT = 7,
};

/* Kinds of `events` records. */
enum klais_event_kind {
    KLAIS_EVENT_FIRST_SEEN = 1,    /* a device got its token bucket: first packet, or first since LRU eviction */
    KLAIS_EVENT_BLOCKED = 2,       /* a sampled drop of a blocklisted device */
    KLAIS_EVENT_RATE_LIMITED = 3,  /* a sampled drop of a device over its rate */
};

/* Map sizes. device_limits is an LRU: the least recently seen devices are evicted when it is full. */
#define KLAIS_MAX_DEVICES 1048576
#define KLAIS_MAX_BLOCKED 262144
#define KLAIS_MAX_OVERRIDES 65536
#define KLAIS_MAX_PORTS 64
#define KLAIS_EVENTS_BYTES (256 * 1024) /* ring buffer: a power of two, a multiple of the page size */

/* Token bucket arithmetic (klais_ratelimit.h). Rates above 2^32-1 tokens/s are refused by user space so that
 * elapsed-seconds x rate stays far from 2^64; an idle time of a minute or more refills the bucket completely. */
#define KLAIS_NS_PER_SEC 1000000000ULL
#define KLAIS_MAX_RATE 0xFFFFFFFFULL
#define KLAIS_FULL_REFILL_NS (60ULL * KLAIS_NS_PER_SEC)

/* Name of the XDP program as the kernel reports it (bpf_prog_info.name): how a stale KLAIS program is known. */
#define KLAIS_PROG_NAME "klais_xdp"

#endif /* KLAIS_CONSTS_H */
