// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * klais_xdp: the edge's XDP filter (DESIGN.md section 3). For UDP to a configured port it checks, in the order
 * of docs/wire-protocol.md: length >= 22 bytes, magic AA 55, device key (FNV-1a 64) not on the blocklist, the
 * device's token bucket. Everything else passes untouched. Every packet is counted under one outcome in
 * `statistics`. Build: make -C bpf; load and attach: src/Klais.Xdp (XdpFilter.Attach) or tools/klais-xdp.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "klais_consts.h"
#include "klais_structs.h"
#include "klais_maps.h"
#include "klais_parse.h"
#include "klais_fnv.h"
#include "klais_ratelimit.h"
#include "klais_events.h"

static __always_inline int klais_verdict(__u32 outcome, __u64 bytes, int action)
{
    klais_count(outcome, bytes);
    return action;
}

SEC("xdp")
int klais_xdp(struct xdp_md *ctx)
{
    void *data_end = (void *)(long)ctx->data_end;
    struct klais_packet pkt;

    /* Bytes are counted as UDP payload bytes (what the socket would get), not frame bytes: data_end - data is
     * pointer arithmetic the verifier allows only with CAP_PERFMON, which the filter does not need otherwise. */
    if (klais_parse(ctx, &pkt) < 0)
        return klais_verdict(KLAIS_STAT_NOT_KLAIS, 0, XDP_PASS);

    __u64 bytes = pkt.payload_len;
    if (pkt.payload_len < KLAIS_HEADER_LEN)
        return klais_verdict(KLAIS_STAT_DROPPED_SIZE, bytes, XDP_DROP);

    const __u8 *header = pkt.payload;
    if ((void *)(header + KLAIS_HEADER_LEN) > data_end)
        return klais_verdict(KLAIS_STAT_NOT_KLAIS, bytes, XDP_PASS); /* truncated frame: the stack drops it */

    if (header[0] != KLAIS_MAGIC_0 || header[1] != KLAIS_MAGIC_1)
        return klais_verdict(KLAIS_STAT_DROPPED_MAGIC, bytes, XDP_DROP);

    __u64 key = klais_device_key(header + KLAIS_DEVICE_ID_OFFSET);
    __u64 now = bpf_ktime_get_ns();
    __u32 zero = 0;
    struct klais_params *params = bpf_map_lookup_elem(&ai_params, &zero);
    if (!params)
        return klais_verdict(KLAIS_STAT_PASSED, bytes, XDP_PASS);

    struct klais_block *block = bpf_map_lookup_elem(&blocklist, &key);
    if (block) {
        __u64 expires = block->expires_ns;
        if (expires == 0 || now < expires) {
            if (klais_event_allowed(params, now, 1))
                klais_emit(KLAIS_EVENT_BLOCKED, key, &pkt, header, block->reason, now);
            return klais_verdict(KLAIS_STAT_DROPPED_BLOCKED, bytes, XDP_DROP);
        }
    }

    int first_seen;
    int pass = klais_rate_check(key, params, now, &first_seen);
    if (first_seen && klais_event_allowed(params, now, 0))
        klais_emit(KLAIS_EVENT_FIRST_SEEN, key, &pkt, header, 0, now);
    if (!pass) {
        if (klais_event_allowed(params, now, 1))
            klais_emit(KLAIS_EVENT_RATE_LIMITED, key, &pkt, header, 0, now);
        return klais_verdict(KLAIS_STAT_DROPPED_RATE, bytes, XDP_DROP);
    }

    return klais_verdict(KLAIS_STAT_PASSED, bytes, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
