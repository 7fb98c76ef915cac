/*
 * The TCP front end as a client library sees it (docs/card-frontends.md):
 * u16 BE length || payload frames, control codes, direct responses, one
 * client at a time with the others waiting in turn.
 *
 * Usage: fe_tcp_test SIMTRUST-CARD
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fe_util.h"

static int port;

static int connect_card(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        fe_die("connect 127.0.0.1:%d: %s", port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            fe_die("send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void send_frame(int fd, const uint8_t *payload, size_t n)
{
    uint8_t buf[2 + 65535];
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    memcpy(buf + 2, payload, n);
    send_all(fd, buf, 2 + n);
}

/* Reads exactly n bytes within ms; returns false on timeout or EOF. */
static bool recv_exact(int fd, uint8_t *buf, size_t n, int ms)
{
    long long deadline = fe_now_ms() + ms;
    size_t got = 0;
    while (got < n) {
        long long left = deadline - fe_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* One reply frame; returns its length or -1. */
static long recv_frame(int fd, uint8_t *buf, int ms)
{
    uint8_t h[2];
    if (!recv_exact(fd, h, 2, ms))
        return -1;
    size_t n = (size_t)h[0] << 8 | h[1];
    if (!recv_exact(fd, buf, n, ms))
        return -1;
    return (long)n;
}

static long apdu(int fd, const char *hex, uint8_t *r)
{
    uint8_t c[300];
    size_t n = fe_unhex(hex, c, sizeof(c));
    send_frame(fd, c, n);
    return recv_frame(fd, r, 5000);
}

static uint16_t sw_of(const uint8_t *r, long n)
{
    return n >= 2 ? (uint16_t)(r[n - 2] << 8 | r[n - 1]) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SIMTRUST-CARD\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct fe_server srv;
    char where[256];
    const char *args[] = {"--tcp", "127.0.0.1:0", NULL};
    fe_server_start(&srv, argv[1], args, "tcp: ", where, sizeof(where));
    FE_CHECK(sscanf(where, "127.0.0.1:%d", &port) == 1 && port > 0,
             "ready line 'tcp: %s' names the bound port", where);

    int fd = connect_card();
    uint8_t r[70000];
    uint8_t ctrl = 0x04;
    send_frame(fd, &ctrl, 1);
    long n = recv_frame(fd, r, 5000);
    FE_CHECK(n >= 2 && r[0] == 0x3B, "control 04 -> the ATR (%ld bytes)", n);

    n = apdu(fd, "00A4040007" FE_AID_HEX, r);
    FE_CHECK(sw_of(r, n) == 0x9000 && n == 2, "SELECT -> 9000");
    /* Direct responses: case 4 returns data at once, no 61xx. */
    n = apdu(fd, "00B00000038301020A", r);
    bool ok = n == 12 && sw_of(r, n) == 0x9000;
    for (long i = 0; ok && i < 10; i++)
        ok = r[i] == fe_file_byte((size_t)i);
    FE_CHECK(ok, "READ FILE with Le=0A -> 10 bytes + 9000 directly");
    n = apdu(fd, "00B00000038301", r);
    FE_CHECK(sw_of(r, n) == 0x6A80 || (sw_of(r, n) & 0xFF00) == 0x6700,
             "truncated TLV -> error SW %04X", sw_of(r, n));
    n = apdu(fd, "0084000010", r);
    FE_CHECK(n == 18 && sw_of(r, n) == 0x9000, "GET RANDOM 16 -> 16 bytes + 9000");
    /* ORA's stray trailing byte after a case-3 command. */
    n = apdu(fd, "00A4040007" FE_AID_HEX "00", r);
    FE_CHECK(sw_of(r, n) == 0x9000, "SELECT with a stray trailing 00 -> 9000");

    /* Oversized payload: no extended length. */
    static uint8_t big[400];
    memset(big, 0x00, sizeof(big));
    send_frame(fd, big, sizeof(big));
    n = recv_frame(fd, r, 5000);
    FE_CHECK(n == 2 && sw_of(r, n) == 0x6700, "400-byte payload -> 6700");
    /* An empty payload is not a control code: the card answers a status word. */
    send_frame(fd, big, 0);
    n = recv_frame(fd, r, 5000);
    FE_CHECK(n == 2 && sw_of(r, n) == 0x6700, "empty payload -> 6700");

    /* Power on (no reply) resets the channels: the applet is deselected. */
    ctrl = 0x01;
    send_frame(fd, &ctrl, 1);
    n = apdu(fd, "0084000008", r);
    FE_CHECK(n == 2 && sw_of(r, n) != 0x9000, "after control 01 the applet is not selected (%04X)",
             sw_of(r, n));
    ctrl = 0x02;
    send_frame(fd, &ctrl, 1);
    ctrl = 0x00;
    send_frame(fd, &ctrl, 1);
    ctrl = 0x01;
    send_frame(fd, &ctrl, 1);

    /* Three frames in one write, the last split in two writes: replies in order. */
    uint8_t batch[64];
    size_t bl = 0;
    const char *cmds[] = {("00A4040007" FE_AID_HEX), "0084000004", "0084000002"};
    for (int i = 0; i < 3; i++) {
        uint8_t c[32];
        size_t cl = fe_unhex(cmds[i], c, sizeof(c));
        batch[bl++] = 0;
        batch[bl++] = (uint8_t)cl;
        memcpy(batch + bl, c, cl);
        bl += cl;
    }
    send_all(fd, batch, bl - 3);
    usleep(100000);
    send_all(fd, batch + bl - 3, 3);
    long n1 = recv_frame(fd, r, 5000);
    long n2 = recv_frame(fd, r, 5000);
    long n3 = recv_frame(fd, r, 5000);
    FE_CHECK(n1 == 2 && n2 == 6 && n3 == 4, "pipelined frames answered in order (%ld %ld %ld)", n1,
             n2, n3);

    /* A second client waits until the first leaves. */
    int fd2 = connect_card();
    uint8_t sel[32];
    size_t sl = fe_unhex("0084000004", sel, sizeof(sel));
    send_frame(fd2, sel, sl);
    uint8_t tmp[8];
    FE_CHECK(!recv_exact(fd2, tmp, 1, 300), "second client gets no answer while the first is on");
    close(fd);
    n = recv_frame(fd2, r, 5000);
    FE_CHECK(n == 6 && sw_of(r, n) == 0x9000,
             "second client served once the first left (card state kept: %04X)", sw_of(r, n));
    close(fd2);

    /* A client that vanishes mid-frame does not disturb the next one. */
    fd = connect_card();
    send_all(fd, "\x00\x05\x00", 3);
    close(fd);
    fd = connect_card();
    n = apdu(fd, "0084000001", r);
    FE_CHECK(n == 3 && sw_of(r, n) == 0x9000, "next client after a half frame");
    close(fd);

    FE_CHECK(fe_server_stop(&srv) == 0, "serve exits 0 on SIGTERM");
    printf("%s: %d failure(s)\n", argv[0], fe_failures);
    return fe_failures == 0 ? 0 : 1;
}
