/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-device token bucket in `device_limits`.
 *
 * Concurrency: packets of one device can be processed on several CPUs at once (several RX queues, or RSS
 * spreading a device that sends from several source ports). The bucket is shared, so every change to it is
 * atomic (BPF atomics: kernel 5.12+):
 *  - Refill: the CPU that moves last_refill_ns forward with a compare-and-swap owns that refill; the others
 *    skip it. The owner adds the tokens with fetch-and-add, then takes back what went over max_tokens (never
 *    more than it added itself), so two refills that overlap cannot push the bucket over its size for long.
 *  - Take: fetch-and-subtract one token; when the value before was not positive, the token is given back and
 *    the packet is dropped. tokens may therefore read as -1..-(CPUs) for an instant; it never wraps.
 * What is accepted: user space replacing a bucket (SetDeviceLimit) while a CPU refills it can lose that one
 * refill or that one replacement's token count; max_tokens and refill_rate are still the new ones. The error is
 * at most one bucket's worth of tokens, once.
 *
 * Arithmetic: rates are tokens per second, at most KLAIS_MAX_RATE (2^32-1), enforced by user space; refills
 * keep the fraction of a token not yet earned by advancing last_refill_ns only by the time the whole tokens
 * took, so a low rate (1/s) is exact over time.
 */
#ifndef KLAIS_RATELIMIT_H
#define KLAIS_RATELIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "klais_maps.h"

#define KLAIS_READ_ONCE(x) (*(volatile typeof(x) *)&(x))

/* The effective size and rate of a bucket: its own override, else the defaults of ai_params. */
static __always_inline void klais_bucket_limits(const struct klais_bucket *b, const struct klais_params *p,
                                                __u64 *max_tokens, __u64 *rate)
{
    __u64 max = KLAIS_READ_ONCE(b->max_tokens);
    __u64 r = KLAIS_READ_ONCE(b->refill_rate);

    if (r == 0) {
        max = p->default_max_tokens;
        r = p->default_refill_rate;
    }
    if (r > KLAIS_MAX_RATE)
        r = KLAIS_MAX_RATE;
    if (max == 0)
        max = 1;
    *max_tokens = max;
    *rate = r;
}

/* Tokens earned in `elapsed` ns at `rate` per second, without overflow for rate <= 2^32-1. */
static __always_inline __u64 klais_tokens_for(__u64 elapsed, __u64 rate)
{
    return (elapsed / KLAIS_NS_PER_SEC) * rate + ((elapsed % KLAIS_NS_PER_SEC) * rate) / KLAIS_NS_PER_SEC;
}

static __always_inline void klais_bucket_refill(struct klais_bucket *b, __u64 max, __u64 rate, __u64 now)
{
    __u64 last = KLAIS_READ_ONCE(b->last_refill_ns);
    if (now <= last)
        return;

    __u64 elapsed = now - last;
    __u64 add;
    __u64 next;
    if (elapsed >= KLAIS_FULL_REFILL_NS) {
        add = max;
        next = now;
    } else {
        add = klais_tokens_for(elapsed, rate);
        if (add == 0)
            return;
        if (add >= max) {
            add = max;
            next = now;
        } else {
            /* add < max <= 2^64/1e9 in practice: keep the unearned fraction of a token for the next refill. */
            next = last + (add * KLAIS_NS_PER_SEC) / rate;
        }
    }

    if (__sync_val_compare_and_swap(&b->last_refill_ns, last, next) != last)
        return; /* another CPU owns this refill */

    __s64 before = __sync_fetch_and_add(&b->tokens, (__s64)add);
    __s64 excess = before + (__s64)add - (__s64)max;
    if (excess > 0) {
        if (excess > (__s64)add)
            excess = (__s64)add;
        __sync_fetch_and_sub(&b->tokens, excess);
    }
}

/* 1 when the device may send this packet, 0 when its bucket is empty. */
static __always_inline int klais_bucket_take(struct klais_bucket *b, const struct klais_params *p, __u64 now)
{
    __u64 max, rate;

    klais_bucket_limits(b, p, &max, &rate);
    if (rate == 0)
        return 1; /* no limit configured */

    klais_bucket_refill(b, max, rate, now);
    if (__sync_fetch_and_sub(&b->tokens, 1) > 0)
        return 1;
    __sync_fetch_and_add(&b->tokens, 1);
    return 0;
}

/*
 * Looks up the device's bucket, creating it on first sight (with the device's override, if any, else the
 * defaults); *first_seen tells which. Returns 1 to pass, 0 to drop. Fails open (passes) if the map refuses
 * the new bucket and no other CPU created it either.
 */
static __always_inline int klais_rate_check(__u64 key, const struct klais_params *p, __u64 now, int *first_seen)
{
    struct klais_bucket *b = bpf_map_lookup_elem(&device_limits, &key);
    *first_seen = 0;
    if (b)
        return klais_bucket_take(b, p, now);

    struct klais_bucket fresh = {};
    struct klais_limit *override = bpf_map_lookup_elem(&limit_overrides, &key);
    if (override) {
        fresh.max_tokens = override->max_tokens;
        fresh.refill_rate = override->refill_rate;
    }
    __u64 max, rate;
    klais_bucket_limits(&fresh, p, &max, &rate);
    /* The first packet takes the first token. */
    fresh.tokens = (__s64)max - 1;
    fresh.last_refill_ns = now;

    if (bpf_map_update_elem(&device_limits, &key, &fresh, BPF_NOEXIST) == 0) {
        *first_seen = 1;
        return 1;
    }
    /* Another CPU created it first (EEXIST): use that one. */
    b = bpf_map_lookup_elem(&device_limits, &key);
    return b ? klais_bucket_take(b, p, now) : 1;
}

#endif /* KLAIS_RATELIMIT_H */
