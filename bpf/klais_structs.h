/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structs that cross the kernel/user boundary, fixed-width only. Each has a C# mirror in
 * src/Klais.Xdp/Native/BpfStructs.cs; BpfStructLayoutTests compares size and every field offset against the
 * BTF of the compiled object.
 */
#ifndef KLAIS_STRUCTS_H
#define KLAIS_STRUCTS_H

#include <linux/types.h>

/* `blocklist` value. expires_ns is CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never expires. An entry whose time
 * has come is ignored by the program (the packet goes on) and removed by user space (PurgeExpiredBlocks). */
struct klais_block {
    __u64 expires_ns;
    __u32 reason;   /* the control plane's reason code; carried into BLOCKED events */
    __u32 _pad;
};

/* `device_limits` value: one token bucket per device. max_tokens and refill_rate 0 = follow the defaults in
 * ai_params (so a change of defaults reaches every device at once); otherwise the device's own override.
 * tokens is signed: a consumer subtracts first and puts the token back when the result was not positive, so
 * the count can dip below zero for an instant under contention (klais_ratelimit.h). */
struct klais_bucket {
    __s64 tokens;
    __u64 last_refill_ns;
    __u64 max_tokens;
    __u64 refill_rate;  /* tokens per second */
};

/* `limit_overrides` value: a per-device limit set by user space. The program copies it into a new bucket, so a
 * device evicted from the LRU device_limits keeps its override when it comes back. */
struct klais_limit {
    __u64 max_tokens;
    __u64 refill_rate;
};

/* `ai_params` value (one entry, index 0): defaults and thresholds the control plane updates at run time. */
struct klais_params {
    __u64 default_max_tokens;   /* bucket size of a device without an override (burst) */
    __u64 default_refill_rate;  /* tokens per second; 0 = no per-device limit for devices without an override */
    __u32 sample_every;         /* 1 in N blocked / rate-limited drops per CPU may raise an event; 0 = none */
    __u32 events_per_sec;       /* per-CPU cap on events of every kind per second; 0 = no events at all */
};

/* `statistics` value: one per outcome (enum klais_stat), per CPU; user space sums the CPUs. bytes are UDP payload
 * bytes (the datagram as a socket would receive it); NOT_KLAIS traffic is not parsed that far and counts 0 bytes. */
struct klais_stat_value {
    __u64 packets;
    __u64 bytes;
};

/* `event_budget` value (per CPU, index 0): the sampling counter and the per-second event window. */
struct klais_event_budget {
    __u64 window_start_ns;
    __u32 sent_in_window;
    __u32 sample_counter;
};

/* A record in the `events` ring buffer. */
struct klais_event {
    __u64 timestamp_ns;           /* bpf_ktime_get_ns */
    __u64 device_key;
    __u8 device_id[16];           /* the raw field, padding included */
    __u8 source_addr[16];         /* IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
    __u32 sequence;               /* host byte order */
    __u32 reason;                 /* blocklist reason for BLOCKED, else 0 */
    __u16 source_port;            /* host byte order */
    __u8 kind;                    /* enum klais_event_kind */
    __u8 _pad[5];
};

#endif /* KLAIS_STRUCTS_H */
