/*
 * What the bench's receivers (udp_sink, udp_kafka) share: the clock, argument parsing, the stop flag, and a socket
 * set up as the edge sets up its own (SO_REUSEPORT, an 8 MiB receive buffer forced when root, a 50 ms receive
 * timeout so a loop sees its stop flag).
 */
#ifndef UDP_RECEIVER_H
#define UDP_RECEIVER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DATAGRAM 2048
#define RCVBUF_BYTES (8 * 1024 * 1024)
#define POLL_MS 50

static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* TEXT as a number from MIN to MAX, or a message naming PROGRAM and WHAT and exit 2. */
static long parse_long(const char *program, const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || value < min || value > max) {
        fprintf(stderr, "%s: %s is \"%s\"; it must be a number from %ld to %ld\n", program, what, text, min, max);
        exit(2);
    }
    return value;
}

/* SIGINT and SIGTERM set `stopping`; without SA_RESTART, so a blocked recvmmsg returns EINTR. */
static void stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* A UDP socket bound to 0.0.0.0:PORT, set up as above; exits 1 with the failing call's message. */
static int bind_receiver(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) { perror("socket"); exit(1); }
    int one = 1, rcvbuf = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) { perror("setsockopt(SO_REUSEPORT)"); exit(1); }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) { perror("setsockopt(SO_RCVBUF)"); exit(1); }
    struct timeval poll = { .tv_sec = 0, .tv_usec = POLL_MS * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll) != 0) { perror("setsockopt(SO_RCVTIMEO)"); exit(1); }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); exit(1); }
    return fd;
}

/* BATCH receive buffers, one datagram each, ready for recvmmsg. */
static void prepare_batch(unsigned char buffers[BATCH][MAX_DATAGRAM], struct iovec iov[BATCH], struct mmsghdr msgs[BATCH])
{
    memset(msgs, 0, sizeof(struct mmsghdr) * BATCH);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = MAX_DATAGRAM;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
}

#endif
