/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Events to user space through the `events` ring buffer, bounded twice: drops (blocked, rate limited) are
 * sampled 1 in ai_params.sample_every per CPU, and every kind together is capped at ai_params.events_per_sec per
 * CPU per one-second window. A flood of spoofed device ids therefore costs at most events_per_sec x CPUs
 * records a second; a full ring buffer is counted (KLAIS_STAT_EVENTS_LOST), never waited for.
 * event_budget is per CPU and XDP does not nest on a CPU, so it needs no atomics.
 */
#ifndef KLAIS_EVENTS_H
#define KLAIS_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "klais_maps.h"
#include "klais_parse.h"

static __always_inline void klais_count(__u32 outcome, __u64 bytes)
{
    struct klais_stat_value *v = bpf_map_lookup_elem(&statistics, &outcome);
    if (v) {
        v->packets++;
        v->bytes += bytes;
    }
}

/* Whether an event may be sent now; `sampled` events (drops) also pass the 1-in-N sampling. */
static __always_inline int klais_event_allowed(const struct klais_params *p, __u64 now, int sampled)
{
    __u32 zero = 0;
    struct klais_event_budget *budget = bpf_map_lookup_elem(&event_budget, &zero);
    if (!budget || p->events_per_sec == 0)
        return 0;

    if (sampled) {
        __u32 every = p->sample_every;
        if (every == 0)
            return 0;
        /* The first drop on a CPU is reported, then every N-th. */
        if (budget->sample_counter++ % every != 0)
            return 0;
    }

    if (now - budget->window_start_ns >= KLAIS_NS_PER_SEC) {
        budget->window_start_ns = now;
        budget->sent_in_window = 0;
    }
    if (budget->sent_in_window >= p->events_per_sec)
        return 0;
    budget->sent_in_window++;
    return 1;
}

/* Fills the parts of an event that come from the packet. Not inlined on purpose: a subprogram's signature is
 * what puts struct klais_event into the object's BTF, where user space checks its C# mirror against it.
 * `header` points at KLAIS_HEADER_LEN bounds-checked bytes of the payload. */
static __noinline void klais_fill_event(struct klais_event *e, const struct klais_packet *pkt, const __u8 *header)
{
    __builtin_memcpy(e->device_id, header + KLAIS_DEVICE_ID_OFFSET, KLAIS_DEVICE_ID_LEN);
    __builtin_memcpy(e->source_addr, pkt->source_addr, 16);
    e->sequence = ((__u32)header[KLAIS_SEQUENCE_OFFSET] << 24) | ((__u32)header[KLAIS_SEQUENCE_OFFSET + 1] << 16) |
                  ((__u32)header[KLAIS_SEQUENCE_OFFSET + 2] << 8) | (__u32)header[KLAIS_SEQUENCE_OFFSET + 3];
    e->source_port = pkt->source_port;
    __builtin_memset(e->_pad, 0, sizeof(e->_pad));
}

static __always_inline void klais_emit(__u8 kind, __u64 key, const struct klais_packet *pkt, const __u8 *header,
                                       __u32 reason, __u64 now)
{
    struct klais_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        klais_count(KLAIS_STAT_EVENTS_LOST, 0);
        return;
    }
    e->timestamp_ns = now;
    e->device_key = key;
    e->reason = reason;
    e->kind = kind;
    klais_fill_event(e, pkt, header);
    bpf_ringbuf_submit(e, 0);
}

#endif /* KLAIS_EVENTS_H */
