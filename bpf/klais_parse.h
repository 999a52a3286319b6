/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing: Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 or IPv6, UDP to a configured port.
 * Anything else is "not KLAIS" and passes untouched: non-IP, other protocols, IPv4 fragments (the kernel
 * reassembles them; the socket path checks them), IPv6 with extension headers before UDP, truncated headers.
 */
#ifndef KLAIS_PARSE_H
#define KLAIS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "klais_maps.h"

#define KLAIS_MAX_VLAN_TAGS 2
#define KLAIS_IP_MF 0x2000
#define KLAIS_IP_OFFSET 0x1fff

/* The uapi headers have no VLAN header outside the kernel's own. */
struct klais_vlan_hdr {
    __be16 tci;
    __be16 encapsulated_proto;
};

/* What the checks need from a UDP datagram to a KLAIS port. */
struct klais_packet {
    const __u8 *payload;   /* first byte of the UDP payload (not yet bounds-checked beyond the UDP header) */
    __u32 payload_len;     /* from the UDP length field: what the socket would receive */
    __u16 source_port;     /* host byte order */
    __u8 source_addr[16];  /* IPv6, or IPv4-mapped */
};

/*
 * The UDP header after an IPv4 header of `ihl` 32-bit words (5..15). Advanced in constant steps rather than by
 * ihl * 4: a packet pointer plus a variable is something the verifier accepts only from a loader with
 * CAP_PERFMON (it cannot mask it against speculation), and the filter should load with CAP_BPF and CAP_NET_ADMIN
 * alone. The empty asm keeps the compiler from folding the steps back into one multiplication.
 */
#define KLAIS_IP_OPTION_WORD(words)          \
    if (ihl > (words)) {                     \
        cursor += 4;                         \
        asm volatile("" : "+r"(cursor));     \
    }

static __always_inline struct udphdr *klais_skip_ip_options(struct iphdr *ip, __u8 ihl)
{
    void *cursor = (void *)ip + 20;

    KLAIS_IP_OPTION_WORD(5)
    KLAIS_IP_OPTION_WORD(6)
    KLAIS_IP_OPTION_WORD(7)
    KLAIS_IP_OPTION_WORD(8)
    KLAIS_IP_OPTION_WORD(9)
    KLAIS_IP_OPTION_WORD(10)
    KLAIS_IP_OPTION_WORD(11)
    KLAIS_IP_OPTION_WORD(12)
    KLAIS_IP_OPTION_WORD(13)
    KLAIS_IP_OPTION_WORD(14)
    return cursor;
}

static __always_inline int klais_is_vlan(__be16 proto)
{
    return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* 0 and `pkt` filled when the packet is UDP to a configured port; -1 when it is anything else. */
static __always_inline int klais_parse(struct xdp_md *ctx, struct klais_packet *pkt)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct udphdr *udp;

    if ((void *)(eth + 1) > data_end)
        return -1;
    __be16 proto = eth->h_proto;
    void *cursor = eth + 1;

#pragma unroll
    for (int i = 0; i < KLAIS_MAX_VLAN_TAGS; i++) {
        if (!klais_is_vlan(proto))
            break;
        struct klais_vlan_hdr *vlan = cursor;
        if ((void *)(vlan + 1) > data_end)
            return -1;
        proto = vlan->encapsulated_proto;
        cursor = vlan + 1;
    }

    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = cursor;
        if ((void *)(ip + 1) > data_end)
            return -1;
        if (ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
            return -1;
        if (ip->frag_off & bpf_htons(KLAIS_IP_MF | KLAIS_IP_OFFSET))
            return -1;
        udp = klais_skip_ip_options(ip, ip->ihl);
        __builtin_memset(pkt->source_addr, 0, 10);
        pkt->source_addr[10] = 0xff;
        pkt->source_addr[11] = 0xff;
        __builtin_memcpy(&pkt->source_addr[12], &ip->saddr, 4);
    } else if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = cursor;
        if ((void *)(ip6 + 1) > data_end)
            return -1;
        if (ip6->nexthdr != IPPROTO_UDP)
            return -1;
        udp = (void *)(ip6 + 1);
        __builtin_memcpy(pkt->source_addr, &ip6->saddr, 16);
    } else {
        return -1;
    }

    if ((void *)(udp + 1) > data_end)
        return -1;
    __u16 port = bpf_ntohs(udp->dest);
    if (!bpf_map_lookup_elem(&ports, &port))
        return -1;
    __u16 udp_len = bpf_ntohs(udp->len);
    if (udp_len < sizeof(*udp))
        return -1;

    pkt->payload = (const __u8 *)(udp + 1);
    pkt->payload_len = udp_len - sizeof(*udp);
    pkt->source_port = bpf_ntohs(udp->source);
    return 0;
}

#endif /* KLAIS_PARSE_H */
