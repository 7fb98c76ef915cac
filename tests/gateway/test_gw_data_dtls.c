/*
 * DTLS 1.2 data plane (issue 5 item 1): cookie exchange, PSK and certificate
 * devices on one UDP socket, datagram payloads relayed to the backend stream
 * with a PROXY v2 header (transport DGRAM), replies back as datagrams, and
 * several peers at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_data_fixture.h"
#include "proxy_v2.h"

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

/* Sends one datagram and reads the echoed one (the backend echoes the
 * stream; one short payload comes back as one record). */
static void dgram_echo(SSL *ssl, const char *msg)
{
    char buf[2048];
    int n;
    assert_int_equal(SSL_write(ssl, msg, (int)strlen(msg)), (int)strlen(msg));
    n = SSL_read(ssl, buf, sizeof(buf));
    assert_int_equal(n, (int)strlen(msg));
    assert_memory_equal(buf, msg, strlen(msg));
}

static void dtls_case(struct gwfx *f, const char *mode, const char *device, const char *method)
{
    SSL_CTX *c = gwfx_client_ctx(f, mode, 0, 1);
    SSL *ssl;
    struct fx_seen seen;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    ssl = gwfx_dtls(c, f->dport);
    assert_non_null(ssl);
    assert_string_equal(SSL_get_version(ssl), "DTLSv1.2");
    dgram_echo(ssl, "reading=42\n");
    dgram_echo(ssl, "reading=43\n");
    assert_int_equal(gwfx_last_seen(f, &seen), 0);
    assert_int_equal(seen.transport, ST_PP2_DGRAM);
    assert_int_equal(seen.family, ST_PP2_INET);
    assert_int_equal(seen.dst_port, f->dport);
    assert_string_equal(seen.device, device);
    assert_string_equal(seen.method, method);
    assert_string_equal(seen.group, FX_GROUP);
    assert_string_equal(seen.version, "DTLSv1.2");
    assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 1);
    gwfx_ssl_close(ssl);
    /* the close_notify ends the peer's session (bounded wait) */
    {
        int i;
        for (i = 0; i < 200 && st_gw_metrics_active(f->m, ST_GW_DTLS) != 0; i++)
            usleep(20000);
        assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 0);
    }
    SSL_CTX_free(c);
}

static void test_dtls_psk(void **state)
{
    dtls_case(*state, "psk", FX_PSK_DEVICE, "psk");
}

static void test_dtls_cert(void **state)
{
    dtls_case(*state, "cert", FX_X509_DEVICE, "x509");
}

/* Several peers on the same socket at once, interleaved. */
static void test_dtls_many_peers(void **state)
{
    struct gwfx *f = *state;
    SSL_CTX *c = gwfx_client_ctx(f, "psk", 0, 1);
    SSL *p[8];
    char msg[32];
    int i, round;
    f->cfg.workers = 1;
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    for (i = 0; i < 8; i++) {
        p[i] = gwfx_dtls(c, f->dport);
        assert_non_null(p[i]);
    }
    assert_int_equal(st_gw_metrics_active(f->m, ST_GW_DTLS), 8);
    for (round = 0; round < 3; round++)
        for (i = 0; i < 8; i++) {
            snprintf(msg, sizeof(msg), "peer %d round %d\n", i, round);
            dgram_echo(p[i], msg);
        }
    for (i = 0; i < 8; i++)
        gwfx_ssl_close(p[i]);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dtls_psk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtls_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtls_many_peers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
