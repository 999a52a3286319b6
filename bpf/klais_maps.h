/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps of the XDP program (BTF-defined). Names are what user space looks them up by. */
#ifndef KLAIS_MAPS_H
#define KLAIS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "klais_consts.h"
#include "klais_structs.h"

/* UDP destination ports (host byte order) the filter inspects; everything else passes untouched. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KLAIS_MAX_PORTS);
    __type(key, __u16);
    __type(value, __u8);
} ports SEC(".maps");

/* device key -> block entry */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KLAIS_MAX_BLOCKED);
    __type(key, __u64);
    __type(value, struct klais_block);
} blocklist SEC(".maps");

/* device key -> token bucket; LRU so a flood of new device ids evicts the quietest devices, not the map. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, KLAIS_MAX_DEVICES);
    __type(key, __u64);
    __type(value, struct klais_bucket);
} device_limits SEC(".maps");

/* device key -> per-device limit (not LRU: an override must not be evicted by traffic). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KLAIS_MAX_OVERRIDES);
    __type(key, __u64);
    __type(value, struct klais_limit);
} limit_overrides SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct klais_params);
} ai_params SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, KLAIS_STAT_COUNT);
    __type(key, __u32);
    __type(value, struct klais_stat_value);
} statistics SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct klais_event_budget);
} event_budget SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, KLAIS_EVENTS_BYTES);
} events SEC(".maps");

#endif /* KLAIS_MAPS_H */
