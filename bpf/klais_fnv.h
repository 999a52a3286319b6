/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The device key: FNV-1a 64 over the 16 raw device_id bytes, padding included. Must equal
 * src/Klais.Contracts/Wire/DeviceKey.cs bit for bit; tests/vectors/device_key.txt holds the golden vectors and
 * Klais.Xdp.Tests runs them through this code with BPF_PROG_TEST_RUN.
 */
#ifndef KLAIS_FNV_H
#define KLAIS_FNV_H

#include <linux/types.h>
#include "klais_consts.h"

/* `id` must point at KLAIS_DEVICE_ID_LEN readable bytes (the caller has bounds-checked the packet). */
static __always_inline __u64 klais_device_key(const __u8 *id)
{
    __u64 hash = KLAIS_FNV_OFFSET_BASIS;

#pragma unroll
    for (int i = 0; i < KLAIS_DEVICE_ID_LEN; i++) {
        hash ^= id[i];
        hash *= KLAIS_FNV_PRIME;
    }
    return hash;
}

#endif /* KLAIS_FNV_H */
