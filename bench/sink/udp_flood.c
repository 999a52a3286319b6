/*
 * udp_flood: the sender of the edge's throughput benchmarks. One thread, one connected UDP socket, sendmmsg in
 * batches of 64: as fast as a sender on one core gets, so the receiver, not the sender, is what a run measures.
 * Datagrams follow the KLAIS wire protocol (docs/wire-protocol.md): magic AA55, a 16-byte device id
 * ("dev-000000" ... padded with NUL), a big-endian u32 sequence, and a JSON payload of exactly PAYLOAD bytes.
 * Datagram i goes to device i % DEVICES with sequence START + i / DEVICES, so every datagram of a run is new to the
 * edge's dedupe and runs with different START never overlap.
 *
 * Usage: udp_flood HOST:PORT DEVICES RATE COUNT [START [PAYLOAD]]
 *   RATE  datagrams per second, paced per batch against CLOCK_MONOTONIC; 0 = as fast as the socket takes them
 *   COUNT datagrams to send
 * Prints one line: sent=N seconds=S rate=R   (R = datagrams/s from the first to the last send)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define HEADER 22
#define ID_BYTES 16
#define MAX_PAYLOAD 1024

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned long long parse_number(const char *text, unsigned long long max, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || text[0] == '-' || value > max) {
        fprintf(stderr, "udp_flood: %s is \"%s\"; it must be a whole number from 0 to %llu\n", what, text, max);
        exit(2);
    }
    return value;
}

/* A JSON object of exactly `size` bytes: {"v":1,"p":"xxx..."}; at least 16 bytes. */
static void write_payload(uint8_t *at, size_t size)
{
    static const char head[] = "{\"v\":1,\"p\":\"";
    size_t n = sizeof head - 1;
    memcpy(at, head, n);
    memset(at + n, 'x', size - n - 2);
    at[size - 2] = '"';
    at[size - 1] = '}';
}

static void write_header(uint8_t *d, unsigned long long device, uint32_t seq)
{
    char id[ID_BYTES + 1];
    d[0] = 0xAA;
    d[1] = 0x55;
    memset(d + 2, 0, ID_BYTES);
    int len = snprintf(id, sizeof id, "dev-%06llu", device);
    memcpy(d + 2, id, (size_t)len);
    uint32_t be = htonl(seq);
    memcpy(d + 18, &be, 4);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: udp_flood HOST:PORT DEVICES RATE COUNT [START [PAYLOAD]]\n");
        return 2;
    }

    char host[64];
    const char *colon = strrchr(argv[1], ':');
    if (colon == NULL || (size_t)(colon - argv[1]) >= sizeof host) {
        fprintf(stderr, "udp_flood: target is \"%s\"; it must be HOST:PORT\n", argv[1]);
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    unsigned long long port = parse_number(colon + 1, 65535, "the port");
    unsigned long long devices = parse_number(argv[2], 999999, "DEVICES");
    unsigned long long rate = parse_number(argv[3], 100000000, "RATE");
    unsigned long long count = parse_number(argv[4], 1ull << 40, "COUNT");
    unsigned long long start = argc > 5 ? parse_number(argv[5], UINT32_MAX, "START") : 0;
    size_t payload = argc > 6 ? (size_t)parse_number(argv[6], MAX_PAYLOAD, "PAYLOAD") : 60;
    if (devices == 0 || payload < 16) {
        fprintf(stderr, "udp_flood: DEVICES must be at least 1 and PAYLOAD at least 16\n");
        return 2;
    }

    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) {
        fprintf(stderr, "udp_flood: \"%s\" is not an IPv4 address\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 8 * 1024 * 1024;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0
        || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("udp_flood: socket");
        return 1;
    }

    static uint8_t buffers[BATCH][HEADER + MAX_PAYLOAD];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        write_payload(buffers[i] + HEADER, payload);
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = HEADER + payload;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    uint64_t first = now_ns(), last = first;
    unsigned long long sent = 0;
    while (sent < count) {
        unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;
        for (unsigned int i = 0; i < n; i++) {
            unsigned long long k = sent + i;
            write_header(buffers[i], k % devices, (uint32_t)(start + k / devices));
        }
        if (rate > 0) {
            /* The batch is due when the datagrams before it are, at RATE from the first send. */
            uint64_t due = first + (uint64_t)((double)sent * 1e9 / (double)rate);
            uint64_t t = now_ns();
            if (due > t) {
                struct timespec ts = { .tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull) };
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
        }
        unsigned int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) {
                    continue;
                }
                if (errno == ECONNREFUSED) {
                    /* An ICMP port unreachable for an earlier datagram: the receiver was not bound then. */
                    fprintf(stderr, "udp_flood: nothing listens on %s\n", argv[1]);
                    return 1;
                }
                perror("udp_flood: sendmmsg");
                return 1;
            }
            done += (unsigned int)r;
        }
        sent += n;
        last = now_ns();
    }

    double seconds = (double)(last - first) / 1e9;
    printf("sent=%llu seconds=%.3f rate=%.0f\n", sent, seconds, seconds > 0 ? (double)sent / seconds : 0.0);
    close(fd);
    return 0;
}
