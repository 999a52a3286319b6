/*
 * udp_sink: the baseline for the edge's receive throughput (design section 7).
 * Binds 0.0.0.0:PORT with SO_REUSEPORT and the same receive buffer as the edge (8 MiB, forced when root),
 * loops recvmmsg in batches of 64, counts datagrams and bytes, and exits IDLE_MS after the last datagram
 * (once one has arrived) or on SIGINT/SIGTERM. Prints one line:
 *   received=N bytes=B first_ns=T0 last_ns=T1 rate=R    (R = datagrams/s from first to last, CLOCK_MONOTONIC)
 * Usage: udp_sink PORT [IDLE_MS]   (IDLE_MS defaults to 1000)
 */
#define _GNU_SOURCE
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

static long parse_long(const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || value < min || value > max) {
        fprintf(stderr, "udp_sink: %s is \"%s\"; it must be a number from %ld to %ld\n", what, text, min, max);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: udp_sink PORT [IDLE_MS]\n");
        return 2;
    }
    int port = (int)parse_long(argv[1], 1, 65535, "PORT");
    long idle_ms = argc == 3 ? parse_long(argv[2], 1, 3600000, "IDLE_MS") : 1000;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) { perror("socket"); return 1; }
    int one = 1, rcvbuf = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) { perror("setsockopt(SO_REUSEPORT)"); return 1; }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) { perror("setsockopt(SO_RCVBUF)"); return 1; }
    struct timeval poll = { .tv_sec = 0, .tv_usec = POLL_MS * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll) != 0) { perror("setsockopt(SO_RCVTIMEO)"); return 1; }

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); return 1; }

    static char buffers[BATCH][MAX_DATAGRAM];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = MAX_DATAGRAM;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    uint64_t received = 0, bytes = 0, first_ns = 0, last_ns = 0;
    while (!stopping) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        uint64_t t = now_ns();
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) { perror("recvmmsg"); return 1; }
            if (received > 0 && t - last_ns >= (uint64_t)idle_ms * 1000000ull) break;
            continue;
        }
        if (received == 0) first_ns = t;
        last_ns = t;
        received += (uint64_t)n;
        for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
    }

    double seconds = (double)(last_ns - first_ns) / 1e9;
    printf("received=%llu bytes=%llu first_ns=%llu last_ns=%llu rate=%.0f\n",
           (unsigned long long)received, (unsigned long long)bytes,
           (unsigned long long)first_ns, (unsigned long long)last_ns,
           seconds > 0 ? (double)received / seconds : 0.0);
    close(fd);
    return 0;
}
