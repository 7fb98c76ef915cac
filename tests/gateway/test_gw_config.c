/*
 * simtrust-gateway configuration (gateway/gw_config.h): defaults, the file
 * syntax, flags, errors naming file and line, cross-field checks and address
 * splitting. The gateway is IoT.04's IoT server middleware (3.2.5, N1, N2).
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

#include "gw_config.h"
#include "st_log.h"

static int parse(const char *text, struct st_gw_config *c, char *err, size_t cap)
{
    st_gw_config_defaults(c);
    return st_gw_config_parse("gw.conf", text, strlen(text), c, err, cap);
}

static void expect_error(const char *text, const char *want)
{
    struct st_gw_config c;
    char err[512] = "";
    assert_int_equal(parse(text, &c, err, sizeof(err)), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void test_defaults(void **state)
{
    (void)state;
    struct st_gw_config c;
    st_gw_config_defaults(&c);
    assert_string_equal(c.tls_listen, "0.0.0.0:8443");
    assert_string_equal(c.dtls_listen, "");
    assert_string_equal(c.backend, "");
    assert_int_equal(c.proxy_protocol, 1);
    assert_string_equal(c.api_listen, "");
    assert_int_equal(c.api_plain_http, 0);
    assert_string_equal(c.registry, "/var/lib/simtrust/registry.db");
    assert_int_equal(c.cert_days, 365);
    assert_int_equal(c.workers, 0);
    assert_int_equal(c.max_connections, 50000);
    assert_int_equal(c.handshake_timeout_ms, 60000);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.backend_timeout_ms, 5000);
    assert_int_equal(c.dtls_mtu, 1200);
    assert_int_equal(c.tls_min_version, 0x0303);
    assert_int_equal(c.psk_dhe_only, 1);
    assert_int_equal(c.log_level, ST_LOG_INFO);
    assert_int_equal(c.log_json, 0);
    assert_string_equal(c.kek_file, "");
    assert_string_equal(c.kek_pkcs11_module, "");
    assert_string_equal(c.kek_pkcs11_token, "simtrust");
    assert_string_equal(c.kek_pkcs11_key, "kek");
    assert_string_equal(c.kek_pkcs11_pin_file, "");
}

static void test_full_file(void **state)
{
    (void)state;
    static const char text[] =
        "\xEF\xBB\xBF# simtrust-gateway\n"
        "\n"
        "   # indented comment\n"
        "tls_listen = 127.0.0.1:0\n"
        "dtls_listen=[::1]:5684\r\n"
        "backend   =   127.0.0.1:9000   # the app\n"
        "proxy_protocol = off\n"
        "api_listen = \"127.0.0.1:0\"\n"
        "api_tokens = \"/etc/simtrust/tokens # not a comment\"  # a comment\n"
        "api_plain_http = on\n"
        "metrics_listen = :9100\n"
        "registry = /tmp/r.db\n"
        "kek_file = /tmp/kek\n"
        "server_cert = /tmp/a#b.pem\n"
        "server_key = \"/tmp/quote\\\"d\\\\.pem\"\n"
        "ca_dir =\n"
        "cert_days = 30\n"
        "workers = 4\n"
        "max_connections = 1000\n"
        "handshake_timeout = 250ms\n"
        "idle_timeout = 5m\n"
        "backend_timeout = 7\n"
        "dtls_mtu = 1400\n"
        "tls_min_version = 1.3\n"
        "psk_dhe_only = off\n"
        "log_level = debug\n"
        "log_format = json";
    struct st_gw_config c;
    char err[256] = "";
    if (parse(text, &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.tls_listen, "127.0.0.1:0");
    assert_string_equal(c.dtls_listen, "[::1]:5684");
    assert_string_equal(c.backend, "127.0.0.1:9000");
    assert_int_equal(c.proxy_protocol, 0);
    assert_string_equal(c.api_listen, "127.0.0.1:0");
    assert_string_equal(c.api_tokens, "/etc/simtrust/tokens # not a comment");
    assert_int_equal(c.api_plain_http, 1);
    assert_string_equal(c.metrics_listen, ":9100");
    assert_string_equal(c.server_cert, "/tmp/a#b.pem");
    assert_string_equal(c.server_key, "/tmp/quote\"d\\.pem");
    assert_string_equal(c.ca_dir, "");
    assert_int_equal(c.cert_days, 30);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.max_connections, 1000);
    assert_int_equal(c.handshake_timeout_ms, 250);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.backend_timeout_ms, 7000);
    assert_int_equal(c.dtls_mtu, 1400);
    assert_int_equal(c.tls_min_version, 0x0304);
    assert_int_equal(c.psk_dhe_only, 0);
    assert_int_equal(c.log_level, ST_LOG_DEBUG);
    assert_int_equal(c.log_json, 1);
    /* "key = # comment" is an empty value; an empty file changes nothing. */
    assert_int_equal(parse("tls_listen = # off\n", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tls_listen, "");
    assert_int_equal(parse("", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tls_listen, "0.0.0.0:8443");
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_error("# x\nfoo = 1\n", "gw.conf:2: unknown key \"foo\"");
    expect_error("workers = 1\n\nworkers = 2\n", "gw.conf:3: duplicate key \"workers\"");
    expect_error("workers = 1\nworkers-x = 2\n", "gw.conf:2: unknown key");
    expect_error("tls_listen 1.2.3.4:5\n", "gw.conf:1: expected \"key = value\"");
    expect_error("= 5\n", "gw.conf:1: expected");
    expect_error("workers = many\n", "gw.conf:1: workers: want an integer");
    expect_error("workers = 99999\n", "gw.conf:1: workers");
    expect_error("workers = -1\n", "gw.conf:1: workers");
    expect_error("cert_days = 0\n", "cert_days");
    expect_error("max_connections = 99999999999999999999999\n", "max_connections");
    expect_error("proxy_protocol = maybe\n", "proxy_protocol: want on or off");
    expect_error("handshake_timeout = 5d\n", "handshake_timeout: bad duration");
    expect_error("handshake_timeout = 0\n", "handshake_timeout");
    expect_error("handshake_timeout = ms\n", "bad duration");
    expect_error("idle_timeout = 99999999999999m\n", "idle_timeout");
    expect_error("tls_min_version = 1.1\n", "want 1.2 or 1.3");
    expect_error("log_level = loud\n", "log_level");
    expect_error("log_format = xml\n", "log_format");
    expect_error("tls_listen = 1.2.3.4\n", "tls_listen: bad address");
    expect_error("tls_listen = ::1:443\n", "bad address");
    expect_error("tls_listen = 1.2.3.4:65536\n", "bad address");
    expect_error("backend = host:12x\n", "bad address");
    expect_error("api_tokens = \"unterminated\n", "unterminated");
    expect_error("api_tokens = \"a\" b\n", "after the closing quote");
    expect_error("api_tokens = \"a\\n\"\n", "bad escape");
    expect_error("api_tokens = a\x01" "b\n", "control character");
    /* NUL byte (explicit length: strlen would stop at it). */
    struct st_gw_config c;
    char err[256] = "";
    static const char nul[] = "workers = 1\nworkers\0 = 2\n";
    st_gw_config_defaults(&c);
    assert_int_equal(st_gw_config_parse("n.conf", nul, sizeof(nul) - 1, &c, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "n.conf:2: NUL byte"));
    /* Lines: 4096 bytes are fine, 4097 are not. */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, '#', 4096);
    memcpy(big + 4096, "\nworkers = 2\n", 14);
    assert_int_equal(parse(big, &c, err, sizeof(err)), 0);
    assert_int_equal(c.workers, 2);
    memset(big, '#', 4097);
    memcpy(big + 4097, "\n", 2);
    expect_error(big, "gw.conf:1: line longer than 4096 bytes");
    free(big);
    /* A path longer than its field. */
    char *path = malloc(ST_GW_PATH_MAX + 32);
    assert_non_null(path);
    memcpy(path, "kek_file = ", 11);
    memset(path + 11, 'a', ST_GW_PATH_MAX);
    path[11 + ST_GW_PATH_MAX] = '\0';
    expect_error(path, "kek_file: value too long");
    free(path);
    /* A tiny error buffer truncates, never overflows. */
    char tiny[8];
    st_gw_config_defaults(&c);
    assert_int_equal(st_gw_config_parse("x", "bogus = 1", 9, &c, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), 7);
}

static void test_set_flags(void **state)
{
    (void)state;
    struct st_gw_config c;
    char err[256];
    st_gw_config_defaults(&c);
    assert_int_equal(st_gw_config_set(&c, "tls-listen", "127.0.0.1:0", err, sizeof(err)), 0);
    assert_string_equal(c.tls_listen, "127.0.0.1:0");
    assert_int_equal(st_gw_config_set(&c, "api_plain-http", "yes", err, sizeof(err)), 0);
    assert_int_equal(c.api_plain_http, 1);
    assert_int_equal(st_gw_config_set(&c, "handshake-timeout", "2m", err, sizeof(err)), 0);
    assert_int_equal(c.handshake_timeout_ms, 120000);
    /* Flags may be set twice (the last wins), unlike file keys. */
    assert_int_equal(st_gw_config_set(&c, "workers", "2", err, sizeof(err)), 0);
    assert_int_equal(st_gw_config_set(&c, "workers", "3", err, sizeof(err)), 0);
    assert_int_equal(c.workers, 3);
    assert_int_equal(st_gw_config_set(&c, "no-such-key", "1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown key \"no-such-key\""));
    assert_int_equal(st_gw_config_set(&c, "log-level", "verbose", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "log_level"));
    assert_int_equal(st_gw_config_set(&c, "", "1", err, sizeof(err)), -1);
    /* A failed set leaves the old value. */
    assert_int_equal(st_gw_config_set(&c, "tls_listen", "nope", err, sizeof(err)), -1);
    assert_string_equal(c.tls_listen, "127.0.0.1:0");
}

static void base_ok(struct st_gw_config *c)
{
    char err[256];
    st_gw_config_defaults(c);
    assert_int_equal(st_gw_config_set(c, "backend", "127.0.0.1:9000", err, sizeof(err)), 0);
    assert_int_equal(st_gw_config_set(c, "kek_file", "/k", err, sizeof(err)), 0);
}

static void want_check(const struct st_gw_config *c, int embedded, const char *want)
{
    char err[512] = "";
    int rc = st_gw_config_check(c, embedded, err, sizeof(err));
    if (want == NULL) {
        if (rc != 0)
            fail_msg("unexpected: %s", err);
        return;
    }
    assert_int_equal(rc, -1);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void test_check(void **state)
{
    (void)state;
    struct st_gw_config c;
    base_ok(&c);
    want_check(&c, 0, NULL);
    c.backend[0] = '\0';
    want_check(&c, 0, "backend is required");
    want_check(&c, 1, NULL); /* embedded application: no backend */
    strcpy(c.backend, "127.0.0.1:0");
    want_check(&c, 0, "non-zero port");
    base_ok(&c);
    c.kek_file[0] = '\0';
    want_check(&c, 0, "kek_file or kek_pkcs11_module is required");
    base_ok(&c);
    c.tls_listen[0] = '\0';
    want_check(&c, 0, "no device listener");
    strcpy(c.dtls_listen, "0.0.0.0:5684");
    want_check(&c, 0, NULL);
    base_ok(&c);
    strcpy(c.server_cert, "/s.pem");
    want_check(&c, 0, "server_cert and server_key");
    strcpy(c.server_key, "/s.key");
    want_check(&c, 0, NULL);
    strcpy(c.api_cert, "/a.pem");
    want_check(&c, 0, "api_cert and api_key");
    strcpy(c.api_key, "/a.key");
    want_check(&c, 0, NULL);
    /* API: tokens, TLS or loopback plain HTTP. */
    base_ok(&c);
    strcpy(c.api_listen, "127.0.0.1:0");
    want_check(&c, 0, "api_tokens is required");
    strcpy(c.api_tokens, "/t");
    want_check(&c, 0, "api_listen is HTTPS");
    c.api_plain_http = 1;
    want_check(&c, 0, NULL);
    strcpy(c.api_listen, "0.0.0.0:8080");
    want_check(&c, 0, "only on a loopback");
    strcpy(c.api_listen, "[::1]:8080");
    want_check(&c, 0, NULL);
    strcpy(c.api_listen, "localhost:8080");
    want_check(&c, 0, NULL);
    c.api_plain_http = 0;
    strcpy(c.server_cert, "/s.pem");
    strcpy(c.server_key, "/s.key");
    want_check(&c, 0, NULL); /* API falls back to the server certificate */
    /* Same fixed port twice; port 0 is always fine. */
    strcpy(c.tls_listen, "0.0.0.0:8443");
    strcpy(c.api_listen, "127.0.0.1:8443");
    want_check(&c, 0, "tls_listen and api_listen use the same port 8443");
    strcpy(c.api_listen, "127.0.0.1:0");
    strcpy(c.metrics_listen, "127.0.0.1:0");
    strcpy(c.tls_listen, "127.0.0.1:0");
    want_check(&c, 0, NULL);
    /* Fields filled directly are checked too. */
    strcpy(c.metrics_listen, "garbage");
    want_check(&c, 0, "metrics_listen: bad address");
    base_ok(&c);
    c.tls_min_version = 0x0302;
    want_check(&c, 0, "tls_min_version");
    base_ok(&c);
    c.workers = -3;
    want_check(&c, 0, "out of range");
}

/* The KEK in a PKCS#11 token: the four keys, and exactly one KEK source. */
static void test_kek_pkcs11(void **state)
{
    (void)state;
    static const char text[] = "backend = 127.0.0.1:9000\n"
                               "kek_pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\n"
                               "kek_pkcs11_token = \"gw token\"\n"
                               "kek_pkcs11_key = registry-kek\n"
                               "kek_pkcs11_pin_file = /etc/simtrust/hsm.pin\n";
    struct st_gw_config c;
    char err[512] = "";
    if (parse(text, &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.kek_pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(c.kek_pkcs11_token, "gw token");
    assert_string_equal(c.kek_pkcs11_key, "registry-kek");
    assert_string_equal(c.kek_pkcs11_pin_file, "/etc/simtrust/hsm.pin");
    assert_string_equal(c.kek_file, "");
    want_check(&c, 0, NULL);
    /* Flags spell them with '-'. */
    assert_int_equal(st_gw_config_set(&c, "kek-pkcs11-token", "simtrust", err, sizeof(err)), 0);
    assert_string_equal(c.kek_pkcs11_token, "simtrust");
    assert_int_equal(st_gw_config_set(&c, "kek-pkcs11-pin-file", "/p", err, sizeof(err)), 0);
    assert_string_equal(c.kek_pkcs11_pin_file, "/p");
    /* A token label is at most 32 bytes. */
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_token",
                                      "0123456789012345678901234567890123", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "kek_pkcs11_token: value too long"));
    assert_string_equal(c.kek_pkcs11_token, "simtrust");
    expect_error("kek_pkcs11_module = /a\nkek_pkcs11_module = /b\n", "kek_pkcs11_module");
    /* Exactly one KEK source. */
    assert_int_equal(st_gw_config_set(&c, "kek_file", "/k", err, sizeof(err)), 0);
    want_check(&c, 0, "kek_file and kek_pkcs11_module exclude each other");
    assert_int_equal(st_gw_config_set(&c, "kek_file", "", err, sizeof(err)), 0);
    want_check(&c, 0, NULL);
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_module", "", err, sizeof(err)), 0);
    want_check(&c, 0, "kek_file or kek_pkcs11_module is required");
    /* The module needs a PIN file, a token and a key label. */
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_module", "/m.so", err, sizeof(err)), 0);
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_pin_file", "", err, sizeof(err)), 0);
    want_check(&c, 0, "kek_pkcs11_pin_file");
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_pin_file", "/p", err, sizeof(err)), 0);
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_key", "", err, sizeof(err)), 0);
    want_check(&c, 0, "kek_pkcs11_key");
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_key", "kek", err, sizeof(err)), 0);
    assert_int_equal(st_gw_config_set(&c, "kek_pkcs11_token", "", err, sizeof(err)), 0);
    want_check(&c, 0, "kek_pkcs11_token");
    /* A kek_file configuration ignores the (defaulted) token and key labels. */
    base_ok(&c);
    want_check(&c, 0, NULL);
}

static void test_addr_split(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 1;
    assert_int_equal(st_gw_addr_split("127.0.0.1:8443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8443);
    assert_int_equal(st_gw_addr_split("[::1]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(st_gw_addr_split(":9100", host, sizeof(host), &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 9100);
    assert_int_equal(st_gw_addr_split("gw.example.com:65535", host, sizeof(host), &port), 0);
    assert_string_equal(host, "gw.example.com");
    assert_int_equal(port, 65535);
    static const char *const bad[] = {"",         "host",        "host:",      "host:65536",
                                      "host:-1",  "host:1a",     "::1:80",     "[::1]80",
                                      "[::1]",    "[]:80",       "[x]:80",     "a b:80",
                                      "host:000080", "h[:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (st_gw_addr_split(bad[i], host, sizeof(host), &port) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    /* Host longer than the buffer. */
    assert_int_equal(st_gw_addr_split("abcdefgh:1", host, 8, &port), -1);
    assert_int_equal(st_gw_addr_split("abcdefg:1", host, 8, &port), 0);
    assert_int_equal(st_gw_addr_split(NULL, host, sizeof(host), &port), -1);
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/test_gw_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "backend = 127.0.0.1:1\nkek_file = /k\nbogus\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    struct st_gw_config c;
    char err[2048] = "";
    st_gw_config_defaults(&c);
    assert_int_equal(st_gw_config_load(path, &c, err, sizeof(err)), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: expected", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    assert_int_equal(st_gw_config_load(path, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_file_errors), cmocka_unit_test(test_set_flags),
        cmocka_unit_test(test_check),      cmocka_unit_test(test_addr_split),
        cmocka_unit_test(test_load),       cmocka_unit_test(test_kek_pkcs11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
