/*
 * udp_kafka: the floor of any edge built on librdkafka, measured beside klais-edge in `make bench`.
 * It does the least a UDP -> Kafka forwarder can do with the edge's producer settings (acks=all, idempotent,
 * linger 5 ms, batch 1 MB, lz4, the system's librdkafka): recvmmsg in batches of 64 on one thread, the wire
 * protocol's magic and length checked, key = the device id, value = the payload, the whole batch handed over with
 * one rd_kafka_produce_batch (copied, partitioned by key), delivery reports taken in batches from the event API
 * on the same thread. No dedupe, no spill, no rate limit, no JSON check, no sequence or timestamp in the record:
 * what it reaches is the most a librdkafka path can forward on this machine, not a product.
 *
 * Usage: udp_kafka PORT BOOTSTRAP TOPIC [IDLE_MS]
 *   Exits IDLE_MS (default 1000; 0 = never) after the last datagram once one has arrived and every record is
 *   settled, or on SIGINT/SIGTERM (after a flush of at most 10 s). Prints one line:
 *   received=N invalid=I produced=P delivered=D failed=F rate=R   (R = delivered / (last report - first datagram))
 */
#include "udp_receiver.h"
#include <librdkafka/rdkafka.h>

#define HEADER 22   /* magic AA55 | 16-byte device id | u32 sequence (docs/wire-protocol.md) */
#define ID_BYTES 16
#define EVENTS_PER_POLL 8

static uint64_t delivered, failed, last_report_ns;

/* Serves up to `events` waiting events from the main queue (delivery reports in batches); returns how many. */
static int serve(rd_kafka_queue_t *queue, int timeout_ms, int events)
{
    int served = 0;
    rd_kafka_message_t *reports[256];
    for (; served < events; served++) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, served == 0 ? timeout_ms : 0);
        if (ev == NULL) break;
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
            size_t n;
            while ((n = rd_kafka_event_message_array(ev, (const rd_kafka_message_t **)reports, 256)) > 0) {
                for (size_t i = 0; i < n; i++) {
                    if (reports[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR) delivered++; else failed++;
                }
            }
            last_report_ns = now_ns();
        } else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR) {
            fprintf(stderr, "udp_kafka: %s\n", rd_kafka_event_error_string(ev));
        }
        rd_kafka_event_destroy(ev);
    }
    return served;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char error[256];
    if (rd_kafka_conf_set(conf, name, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "udp_kafka: %s=%s: %s\n", name, value, error);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: udp_kafka PORT BOOTSTRAP TOPIC [IDLE_MS]\n");
        return 2;
    }
    int port = (int)parse_long("udp_kafka", argv[1], 1, 65535, "PORT");
    long idle_ms = argc == 5 ? parse_long("udp_kafka", argv[4], 0, 3600000, "IDLE_MS") : 1000;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[2]);
    set(conf, "client.id", "udp_kafka");
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");
    set(conf, "batch.size", "1000000");
    set(conf, "compression.codec", "lz4");
    set(conf, "queue.buffering.max.messages", "2000000");
    rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
    char error[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (rk == NULL) { fprintf(stderr, "udp_kafka: %s\n", error); return 1; }
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, argv[3], NULL);
    rd_kafka_queue_t *queue = rd_kafka_queue_get_main(rk);

    stop_on_signals();

    int fd = bind_receiver(port);

    static unsigned char buffers[BATCH][MAX_DATAGRAM];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    rd_kafka_message_t records[BATCH];
    prepare_batch(buffers, iov, msgs);

    uint64_t received = 0, invalid = 0, produced = 0, first_ns = 0, last_ns = 0;
    while (!stopping) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        uint64_t t = now_ns();
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) { perror("recvmmsg"); return 1; }
            serve(queue, 0, EVENTS_PER_POLL);
            if (idle_ms > 0 && received > 0 && t - last_ns >= (uint64_t)idle_ms * 1000000ull && rd_kafka_outq_len(rk) == 0) break;
            continue;
        }
        if (received == 0) first_ns = t;
        last_ns = t;
        received += (uint64_t)n;
        int m = 0;
        for (int i = 0; i < n; i++) {
            unsigned char *d = buffers[i];
            unsigned int len = msgs[i].msg_len;
            if (len <= HEADER || d[0] != 0xAA || d[1] != 0x55) { invalid++; continue; }
            size_t id = 0;
            while (id < ID_BYTES && d[2 + id] != 0) id++;
            memset(&records[m], 0, sizeof records[m]);
            records[m].key = d + 2;
            records[m].key_len = id;
            records[m].payload = d + HEADER;
            records[m].len = len - HEADER;
            m++;
        }
        /* Copied (RD_KAFKA_MSG_F_COPY): the buffers are reused by the next recvmmsg. Records the call refused
         * (a full queue) are kept in order and offered again once reports have freed room. */
        while (m > 0) {
            produced += (uint64_t)rd_kafka_produce_batch(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, records, m);
            int left = 0;
            for (int i = 0; i < m; i++) {
                if (records[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
                if (records[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    fprintf(stderr, "udp_kafka: produce: %s\n", rd_kafka_err2str(records[i].err));
                    return 1;
                }
                records[left++] = records[i];
            }
            m = left;
            if (m > 0) serve(queue, 10, EVENTS_PER_POLL);
        }
        serve(queue, 0, EVENTS_PER_POLL);
    }

    uint64_t deadline = now_ns() + 10000000000ull;
    while (rd_kafka_outq_len(rk) > 0 && now_ns() < deadline) serve(queue, 100, EVENTS_PER_POLL);
    double seconds = (double)(last_report_ns - first_ns) / 1e9;
    printf("received=%llu invalid=%llu produced=%llu delivered=%llu failed=%llu rate=%.0f\n",
           (unsigned long long)received, (unsigned long long)invalid, (unsigned long long)produced,
           (unsigned long long)delivered, (unsigned long long)failed,
           seconds > 0 ? (double)delivered / seconds : 0.0);
    close(fd);
    rd_kafka_queue_destroy(queue);
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(rk);
    return 0;
}
