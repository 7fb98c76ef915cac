/*
 * Hostile inputs at the data plane (issue 5 "Tests"): garbage, plain HTTP, a
 * truncated ClientHello, an oversized record, a slowloris handshake, the
 * connection limit, and DTLS datagrams from peers that never proved their
 * address (stateless cookie exchange: no per-peer state). Each one is a
 * clean close, counted, and the server keeps serving real devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_data_fixture.h"

#define PROTOCOL "simtrust_gw_connections_refused_total{reason=\"protocol\"}"
#define TIMEOUT "simtrust_gw_connections_refused_total{reason=\"timeout\"}"
#define LIMIT "simtrust_gw_connections_refused_total{reason=\"limit\"}"

static int setup(void **state)
{
    struct gwfx *f = calloc(1, sizeof(*f));
    assert_int_equal(gwfx_init(f), 0);
    gwfx_backend(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    gwfx_fini(*state);
    free(*state);
    return 0;
}

/* A real ClientHello (TLS or DTLS), produced by OpenSSL into memory. */
static size_t client_hello(struct gwfx *f, int dtls, uint8_t *out, size_t cap)
{
    SSL_CTX *c = gwfx_client_ctx(f, "cert", 0, dtls);
    SSL *ssl = SSL_new(c);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    int n;
    if (dtls) {
        SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
        SSL_set_mtu(ssl, 1200);
    }
    SSL_set_bio(ssl, rb, wb);
    assert_int_equal(SSL_connect(ssl), -1); /* wants the server's answer */
    n = BIO_read(wb, out, (int)cap);
    assert_true(n > 100);
    SSL_free(ssl);
    SSL_CTX_free(c);
    return (size_t)n;
}

/* Sends bytes, optionally half-closes, and expects the server to close the
 * connection (EOF or reset, not our 10 s receive timeout). */
static void expect_closed(struct gwfx *f, const uint8_t *p, size_t n, int half_close)
{
    int fd = gwfx_tcp(f->port);
    char buf[256];
    ssize_t r;
    assert_true(fd >= 0);
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
    if (half_close)
        shutdown(fd, SHUT_WR);
    do {
        r = recv(fd, buf, sizeof(buf), 0); /* an alert may come first */
    } while (r > 0);
    assert_true(r == 0 || errno == ECONNRESET);
    close(fd);
}

/* After the abuse a real device is still served. */
static void still_serving(struct gwfx *f)
{
    SSL_CTX *c = gwfx_client_ctx(f, "psk", TLS1_2_VERSION, 0);
    SSL *ssl = gwfx_tls(c, f->port, NULL);
    assert_non_null(ssl);
    assert_int_equal(gwfx_echo(ssl, "still here\n"), 0);
    gwfx_ssl_close(ssl);
    SSL_CTX_free(c);
}

static void test_garbage(void **state)
{
    struct gwfx *f = *state;
    static const uint8_t junk[] = "\x00\x01\x02\x03\xff\xfe\xfd garbage that is not TLS at all";
    static const char http[] = "GET / HTTP/1.1\r\nHost: gw\r\n\r\n";
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    expect_closed(f, junk, sizeof(junk) - 1, 0);
    expect_closed(f, (const uint8_t *)http, strlen(http), 0);
    assert_int_equal(gwfx_wait_metric(f, PROTOCOL, 2), 2);
    still_serving(f);
}

static void test_truncated_client_hello(void **state)
{
    struct gwfx *f = *state;
    uint8_t ch[4096];
    size_t n = client_hello(f, 0, ch, sizeof(ch));
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    /* the record header promises more than arrives, then EOF */
    expect_closed(f, ch, n / 2, 1);
    /* a complete record whose ClientHello claims 16 MiB (records may
     * fragment a message, so only the claimed size can be refused early) */
    ch[3] = 0;
    ch[4] = 20;
    ch[6] = ch[7] = ch[8] = 0xff;
    expect_closed(f, ch, 5 + 20, 0);
    assert_int_equal(gwfx_wait_metric(f, PROTOCOL, 2), 2);
    still_serving(f);
}

static void test_oversized_record(void **state)
{
    struct gwfx *f = *state;
    uint8_t rec[5 + 1024];
    memset(rec, 0x41, sizeof(rec));
    rec[0] = 0x16; /* handshake */
    rec[1] = 0x03;
    rec[2] = 0x01;
    rec[3] = 0xff; /* 65535 bytes: beyond any TLS record limit */
    rec[4] = 0xff;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    expect_closed(f, rec, sizeof(rec), 0);
    assert_int_equal(gwfx_wait_metric(f, PROTOCOL, 1), 1);
    still_serving(f);
}

/* One byte of a real ClientHello every 100 ms: never complete, cut at the
 * handshake timeout. The loop is bounded by the ClientHello's length, so a
 * server that never cuts fails the test. */
static void test_slowloris(void **state)
{
    struct gwfx *f = *state;
    uint8_t ch[4096];
    size_t n = client_hello(f, 0, ch, sizeof(ch)), i;
    int fd, closed = 0;
    f->cfg.handshake_timeout_ms = 500;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    fd = gwfx_tcp(f->port);
    assert_true(fd >= 0);
    for (i = 0; i + 1 < n && !closed; i++) {
        char b;
        ssize_t r;
        if (send(fd, ch + i, 1, MSG_NOSIGNAL) != 1)
            closed = 1;
        usleep(100000);
        r = recv(fd, &b, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = 1;
    }
    assert_true(closed);
    close(fd);
    assert_int_equal(gwfx_wait_metric(f, TIMEOUT, 1), 1);
    still_serving(f);
}

static void test_connection_limit(void **state)
{
    struct gwfx *f = *state;
    SSL_CTX *c = gwfx_client_ctx(f, "psk", TLS1_2_VERSION, 0);
    SSL *a, *b, *x;
    f->cfg.workers = 1;
    f->cfg.max_connections = 2;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    a = gwfx_tls(c, f->port, NULL);
    b = gwfx_tls(c, f->port, NULL);
    assert_non_null(a);
    assert_non_null(b);
    x = gwfx_tls(c, f->port, NULL);
    assert_null(x);
    assert_int_equal(gwfx_wait_metric(f, LIMIT, 1), 1);
    assert_int_equal(gwfx_echo(a, "a\n"), 0);
    gwfx_ssl_close(a);
    /* a slot is free again once the first one is gone */
    {
        int i;
        for (i = 0; i < 200 && st_gw_metrics_active(f->m, ST_GW_TLS) > 1; i++)
            usleep(20000);
    }
    x = gwfx_tls(c, f->port, NULL);
    assert_non_null(x);
    assert_int_equal(gwfx_echo(x, "x\n"), 0);
    gwfx_ssl_close(x);
    gwfx_ssl_close(b);
    SSL_CTX_free(c);
}

/* DTLS: junk is dropped, a cookie-less ClientHello gets a HelloVerifyRequest,
 * and neither creates a peer. */
static void test_dtls_stateless(void **state)
{
    struct gwfx *f = *state;
    uint8_t ch[4096], reply[2048];
    size_t n = client_hello(f, 1, ch, sizeof(ch));
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    ssize_t r;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->dport);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (i = 0; i < 50; i++) {
        uint8_t junk[100];
        memset(junk, i, sizeof(junk));
        junk[0] = (uint8_t)(20 + i % 5); /* plausible content types too */
        assert_int_equal(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    }
    assert_int_equal(send(fd, ch, n, 0), (ssize_t)n);
    r = recv(fd, reply, sizeof(reply), 0);
    assert_true(r > 13);
    assert_int_equal(reply[0], 22); /* handshake record */
    assert_int_equal(reply[13], 3); /* HelloVerifyRequest */
    assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 0);
    close(fd);
    /* a real device still completes the exchange */
    {
        SSL_CTX *c = gwfx_client_ctx(f, "psk", 0, 1);
        SSL *ssl = gwfx_dtls(c, f->dport);
        char buf[64];
        assert_non_null(ssl);
        assert_int_equal(SSL_write(ssl, "ok\n", 3), 3);
        assert_int_equal(SSL_read(ssl, buf, sizeof(buf)), 3);
        gwfx_ssl_close(ssl);
        SSL_CTX_free(c);
    }
}

/* A DTLS client whose input the test controls: it writes to a UDP socket
 * connected to the gateway but reads only what the test hands it (rb). Runs
 * the cookie exchange: ClientHello, HelloVerifyRequest (handed over),
 * ClientHello with the cookie; returns with that sent. */
struct dtls_manual {
    int fd;
    BIO *rb;
    SSL *ssl;
    SSL_CTX *ctx;
};

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) != 1)
        return -1;
    return recv(fd, buf, cap, 0);
}

static void dtls_manual_start(struct gwfx *f, struct dtls_manual *m)
{
    struct sockaddr_in a;
    uint8_t dgram[2048];
    ssize_t n;
    m->ctx = gwfx_client_ctx(f, "psk", 0, 1);
    m->fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->dport);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    BIO *wb = BIO_new_dgram(m->fd, BIO_NOCLOSE);
    BIO_ctrl(wb, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &a);
    m->rb = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(m->rb, -1);
    m->ssl = SSL_new(m->ctx);
    SSL_set_bio(m->ssl, m->rb, wb);
    assert_int_equal(SSL_connect(m->ssl), -1); /* ClientHello */
    n = recv_wait(m->fd, dgram, sizeof(dgram), 5000);
    assert_true(n > 13);
    assert_int_equal(dgram[13], 3); /* HelloVerifyRequest */
    assert_int_equal(BIO_write(m->rb, dgram, (int)n), (int)n);
    assert_int_equal(SSL_connect(m->ssl), -1); /* ClientHello with the cookie */
}

static void dtls_manual_end(struct dtls_manual *m)
{
    SSL_free(m->ssl);
    SSL_CTX_free(m->ctx);
    close(m->fd);
}

/* DTLS handshake timeout: a peer that passed the cookie exchange and then
 * went silent is cut at handshake_timeout, retransmissions and all. */
static void test_dtls_silent_peer(void **state)
{
    struct gwfx *f = *state;
    struct dtls_manual m;
    int i;
    f->cfg.handshake_timeout_ms = 1500;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    dtls_manual_start(f, &m);
    /* The peer exists now; then the client stops answering. */
    for (i = 0; i < 500 && st_gw_metrics_active(f->m, ST_GW_DTLS) == 0; i++)
        usleep(10000);
    assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 1);
    assert_int_equal(gwfx_wait_metric(f, TIMEOUT, 1), 1);
    assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 0);
    dtls_manual_end(&m);
}

/* DTLS retransmission (RFC 6347 4.2.4): the server's first flight after the
 * cookie is lost (the test reads and drops it); the gateway's timer sends it
 * again, and with that copy the handshake completes and data is relayed. */
static void test_dtls_retransmission(void **state)
{
    struct gwfx *f = *state;
    struct dtls_manual m;
    uint8_t dgram[2048];
    ssize_t n;
    int rc = -1, lost = 0;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    dtls_manual_start(f, &m);
    /* Drop everything of the first flight (ServerHello ... ServerHelloDone). */
    while ((n = recv_wait(m.fd, dgram, sizeof(dgram), 300)) > 0)
        lost++;
    assert_true(lost >= 1);
    assert_int_equal(SSL_connect(m.ssl), -1); /* nothing to read yet */
    /* The retransmitted flight, then the rest of the handshake. */
    for (int step = 0; step < 20 && rc != 1; step++) {
        n = recv_wait(m.fd, dgram, sizeof(dgram), 10000);
        assert_true(n > 0);
        assert_int_equal(BIO_write(m.rb, dgram, (int)n), (int)n);
        rc = SSL_connect(m.ssl);
        if (rc != 1)
            assert_int_equal(SSL_get_error(m.ssl, rc), SSL_ERROR_WANT_READ);
    }
    assert_int_equal(rc, 1);
    /* Application data through the gateway to the echo backend and back. */
    assert_int_equal(SSL_write(m.ssl, "again\n", 6), 6);
    rc = -1;
    for (int step = 0; step < 10 && rc <= 0; step++) {
        n = recv_wait(m.fd, dgram, sizeof(dgram), 10000);
        assert_true(n > 0);
        BIO_write(m.rb, dgram, (int)n);
        char buf[16];
        rc = SSL_read(m.ssl, buf, sizeof(buf));
        if (rc > 0)
            assert_memory_equal(buf, "again\n", 6);
    }
    assert_int_equal(rc, 6);
    dtls_manual_end(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_client_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowloris, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtls_stateless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtls_silent_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtls_retransmission, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
