/*
 * udp_sink: the baseline for the edge's receive throughput (design section 7).
 * Binds 0.0.0.0:PORT with SO_REUSEPORT and the same receive buffer as the edge (8 MiB, forced when root),
 * loops recvmmsg in batches of 64, counts datagrams and bytes, and exits IDLE_MS after the last datagram
 * (once one has arrived) or on SIGINT/SIGTERM. Prints one line:
 *   received=N bytes=B first_ns=T0 last_ns=T1 rate=R    (R = datagrams/s from first to last, CLOCK_MONOTONIC)
 * Usage: udp_sink PORT [IDLE_MS]   (IDLE_MS defaults to 1000)
 */
#include "udp_receiver.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: udp_sink PORT [IDLE_MS]\n");
        return 2;
    }
    int port = (int)parse_long("udp_sink", argv[1], 1, 65535, "PORT");
    long idle_ms = argc == 3 ? parse_long("udp_sink", argv[2], 1, 3600000, "IDLE_MS") : 1000;

    stop_on_signals();

    int fd = bind_receiver(port);

    static unsigned char buffers[BATCH][MAX_DATAGRAM];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    prepare_batch(buffers, iov, msgs);

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
