/*
 * Data plane over TCP (issue 5 items 1, 3): TLS 1.3 and 1.2 with a device
 * certificate (scenario 1), TLS 1.2 PSK and TLS 1.3 PSK-DHE (scenarios 3/4),
 * relayed both ways to a real backend that parses the PROXY v2 header
 * (IoT.04 N1, N2), the embedded application mode, an unreachable backend,
 * and a reload while a connection is live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_data_fixture.h"
#include "proxy_v2.h"

static int setup(void **state)
{
    struct gwfx *f = calloc(1, sizeof(*f));
    assert_int_equal(gwfx_init(f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    gwfx_fini(*state);
    free(*state);
    return 0;
}

static uint16_t local_port(SSL *ssl)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getsockname(SSL_get_fd(ssl), (struct sockaddr *)&a, &al);
    return ntohs(a.sin_port);
}

/* One device connection through the backend; checks the echo and the TLVs. */
static void relay_case(struct gwfx *f, const char *mode, int maxver, const char *device,
                       const char *method, const char *version)
{
    SSL_CTX *c = gwfx_client_ctx(f, mode, maxver, 0);
    SSL *ssl = gwfx_tls(c, f->port, "gw.example");
    struct fx_seen seen;
    const uint8_t lo[4] = {127, 0, 0, 1};
    assert_non_null(ssl);
    assert_int_equal(gwfx_echo(ssl, "hello from the device\n"), 0);
    /* a second burst larger than one record, both ways */
    {
        char *big = malloc(40001);
        memset(big, 'x', 40000);
        big[40000] = '\0';
        assert_int_equal(gwfx_echo(ssl, big), 0);
        free(big);
    }
    assert_int_equal(gwfx_last_seen(f, &seen), 0);
    assert_int_equal(seen.family, ST_PP2_INET);
    assert_int_equal(seen.transport, ST_PP2_STREAM);
    assert_memory_equal(seen.src_addr, lo, 4);
    assert_int_equal(seen.src_port, local_port(ssl));
    assert_int_equal(seen.dst_port, f->port);
    assert_string_equal(seen.device, device);
    assert_string_equal(seen.group, FX_GROUP);
    assert_string_equal(seen.tenant, FX_TENANT);
    assert_string_equal(seen.method, method);
    assert_string_equal(seen.version, version);
    assert_string_equal(seen.authority, "gw.example");
    assert_string_equal(seen.cipher, SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
    assert_true(seen.ssl_client & ST_PP2_CLIENT_SSL);
    if (strcmp(method, "x509") == 0) {
        assert_string_equal(seen.cn, FX_X509_DEVICE);
        assert_true(seen.ssl_client & ST_PP2_CLIENT_CERT_CONN);
        assert_int_equal(seen.verify, 0);
        assert_string_equal(seen.iccid, "");
    } else {
        assert_false(seen.ssl_client & ST_PP2_CLIENT_CERT_CONN);
        assert_int_not_equal(seen.verify, 0);
        assert_string_equal(seen.iccid, FX_PSK_ICCID);
    }
    gwfx_ssl_close(ssl);
    SSL_CTX_free(c);
}

static void test_tls13_cert(void **state)
{
    struct gwfx *f = *state;
    gwfx_backend(f);
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    relay_case(f, "cert", 0, FX_X509_DEVICE, "x509", "TLSv1.3");
}

static void test_tls12_cert(void **state)
{
    struct gwfx *f = *state;
    gwfx_backend(f);
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    relay_case(f, "cert", TLS1_2_VERSION, FX_X509_DEVICE, "x509", "TLSv1.2");
}

static void test_tls12_psk(void **state)
{
    struct gwfx *f = *state;
    gwfx_backend(f);
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    relay_case(f, "psk", TLS1_2_VERSION, FX_PSK_DEVICE, "psk", "TLSv1.2");
}

static void test_tls13_psk_dhe(void **state)
{
    struct gwfx *f = *state;
    gwfx_backend(f);
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    relay_case(f, "psk", 0, FX_PSK_DEVICE, "psk", "TLSv1.3");
}

/* ---- embedded application: echoes upper-cased, closes on "bye" ---- */

struct app {
    int opened, closed;
    char device[80], method[16];
    size_t bytes;
};

static void *app_open(void *arg, struct st_gw_session *s, const struct st_gw_auth *who)
{
    struct app *a = arg;
    a->opened++;
    snprintf(a->device, sizeof(a->device), "%s", who->device_id);
    snprintf(a->method, sizeof(a->method), "%s", st_gw_method_name(who->method));
    return s;
}

static void app_data(void *arg, void *session, const uint8_t *p, size_t n)
{
    struct app *a = arg;
    uint8_t out[16384];
    size_t i;
    a->bytes += n;
    if (n >= 3 && memcmp(p, "bye", 3) == 0) {
        st_gw_session_close(session);
        return;
    }
    for (i = 0; i < n && i < sizeof(out); i++)
        out[i] = (uint8_t)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
    assert_int_equal(st_gw_session_send(session, out, i), 0);
}

static void app_close(void *arg, void *session)
{
    ((struct app *)arg)->closed++;
}

static void test_embedded_app(void **state)
{
    struct gwfx *f = *state;
    static const struct st_gw_app_ops ops = {app_open, app_data, app_close};
    struct app a;
    SSL_CTX *c;
    SSL *ssl;
    char buf[64];
    int n, i;
    memset(&a, 0, sizeof(a));
    f->cfg.workers = 1; /* the app struct is read from this thread after the fact */
    assert_int_equal(gwfx_start(f, &ops, &a), 0);
    c = gwfx_client_ctx(f, "cert", 0, 0);
    ssl = gwfx_tls(c, f->port, NULL);
    assert_non_null(ssl);
    assert_int_equal(SSL_write(ssl, "ping", 4), 4);
    n = SSL_read(ssl, buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "PING", 4);
    assert_int_equal(SSL_write(ssl, "bye", 3), 3);
    /* the application closed: close_notify arrives */
    n = SSL_read(ssl, buf, sizeof(buf));
    assert_int_equal(n, 0);
    assert_int_equal(SSL_get_error(ssl, n), SSL_ERROR_ZERO_RETURN);
    gwfx_ssl_close(ssl);
    SSL_CTX_free(c);
    for (i = 0; i < 200 && a.closed == 0; i++)
        usleep(10000);
    assert_int_equal(a.opened, 1);
    assert_int_equal(a.closed, 1);
    assert_string_equal(a.device, FX_X509_DEVICE);
    assert_string_equal(a.method, "x509");
    assert_int_equal(a.bytes, 7);
}

/* ---- backend down: the device is closed, counted as REFUSED_BACKEND ---- */

static void test_backend_down(void **state)
{
    struct gwfx *f = *state;
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    SSL_CTX *c;
    SSL *ssl;
    char buf[16];
    int n;
    /* A port that was just free and has no listener. */
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    snprintf(f->cfg.backend, sizeof(f->cfg.backend), "127.0.0.1:%u", ntohs(a.sin_port));
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    c = gwfx_client_ctx(f, "psk", TLS1_2_VERSION, 0);
    ssl = gwfx_tls(c, f->port, NULL);
    assert_non_null(ssl);
    SSL_write(ssl, "lost", 4);
    n = SSL_read(ssl, buf, sizeof(buf));
    assert_true(n <= 0);
    assert_int_equal(
        gwfx_wait_metric(f, "simtrust_gw_connections_refused_total{reason=\"backend\"}", 1), 1);
    gwfx_ssl_close(ssl);
    SSL_CTX_free(c);
    close(fd);
}

/* ---- reload: the live connection keeps working; a new one gets the new
 * certificate ---- */

static void peer_cn(SSL *ssl, char *cn, size_t cap)
{
    X509 *x = SSL_get0_peer_certificate(ssl);
    cn[0] = '\0';
    if (x)
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cap);
}

static void test_reload_live(void **state)
{
    struct gwfx *f = *state;
    struct st_gw_config next;
    SSL_CTX *c;
    SSL *old, *nu;
    char err[256], cn[80];
    gwfx_backend(f);
    assert_int_equal(gwfx_start(f, NULL, NULL), 0);
    c = gwfx_client_ctx(f, "cert", 0, 0);
    old = gwfx_tls(c, f->port, NULL);
    assert_non_null(old);
    assert_int_equal(gwfx_echo(old, "before reload\n"), 0);
    peer_cn(old, cn, sizeof(cn));
    assert_string_equal(cn, "localhost");

    next = f->cfg;
    gwfx_path(f, "srv2.pem", next.server_cert, sizeof(next.server_cert));
    gwfx_path(f, "srv2.key", next.server_key, sizeof(next.server_key));
    assert_int_equal(st_gw_server_reload(f->srv, &next, err, sizeof(err)), 0);

    assert_int_equal(gwfx_echo(old, "after reload, same connection\n"), 0);
    nu = gwfx_tls(c, f->port, NULL);
    assert_non_null(nu);
    peer_cn(nu, cn, sizeof(cn));
    assert_string_equal(cn, "gw-renewed");
    assert_int_equal(gwfx_echo(nu, "new connection\n"), 0);
    assert_int_equal(gwfx_echo(old, "old one still works\n"), 0);

    /* what cannot change is refused, and the running configuration stays */
    strcpy(next.tls_listen, "127.0.0.1:1");
    assert_int_equal(st_gw_server_reload(f->srv, &next, err, sizeof(err)), -1);
    assert_int_equal(gwfx_echo(old, "still\n"), 0);
    gwfx_ssl_close(old);
    gwfx_ssl_close(nu);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls13_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls12_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls12_psk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls13_psk_dhe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
