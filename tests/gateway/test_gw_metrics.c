/*
 * Gateway metrics (issue 5 item 7): counters from several threads, and the
 * rendering parsed line by line as Prometheus text format 0.0.4 (HELP/TYPE
 * before each family's samples, well-formed sample lines, cumulative
 * histogram buckets ending in +Inf == _count, _sum).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_metrics.h"
#include "psk_resolve.h"

/* Value of the sample line that starts with "name{labels} " exactly. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    fail_msg("series not found: %s", series);
    return -1;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return 0;
    return 1;
}

/* Parses every line; returns the number of samples. */
static int parse_all(const char *text)
{
    char family[128] = "", type[16] = "";
    int samples = 0, help_seen = 0;
    const char *p = text;
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    while (*p) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        size_t len = (size_t)(e - p);
        char line[512];
        assert_true(len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            char *sp = strchr(line + 7, ' ');
            assert_non_null(sp);
            assert_true(valid_name(line + 7, (size_t)(sp - line - 7)));
            snprintf(family, sizeof(family), "%.*s", (int)(sp - line - 7), line + 7);
            help_seen = 1;
            type[0] = '\0';
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(help_seen);
            size_t fl = strlen(family);
            assert_memory_equal(line + 7, family, fl);
            assert_int_equal(line[7 + fl], ' ');
            snprintf(type, sizeof(type), "%s", line + 8 + fl);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
        } else {
            /* name{label="value",...} value */
            assert_true(type[0] != '\0');
            size_t nl = strcspn(line, "{ ");
            assert_true(valid_name(line, nl));
            assert_memory_equal(line, family, strlen(family));
            const char *suffix = line + strlen(family);
            if (strcmp(type, "histogram") == 0)
                assert_true(strncmp(suffix, "_bucket{", 8) == 0 || strncmp(suffix, "_sum{", 5) == 0 ||
                            strncmp(suffix, "_count{", 7) == 0);
            else
                assert_true(*suffix == '{' || *suffix == ' ');
            const char *q = line + nl;
            if (*q == '{') {
                q++;
                for (;;) {
                    size_t ln = strcspn(q, "=");
                    assert_true(valid_name(q, ln));
                    q += ln;
                    assert_int_equal(q[0], '=');
                    assert_int_equal(q[1], '"');
                    q += 2;
                    while (*q != '"') {
                        assert_true(*q != '\0' && *q != '\n');
                        if (*q == '\\') {
                            assert_true(q[1] == '\\' || q[1] == '"' || q[1] == 'n');
                            q++;
                        }
                        q++;
                    }
                    q++;
                    if (*q == ',') {
                        q++;
                        continue;
                    }
                    assert_int_equal(*q, '}');
                    q++;
                    break;
                }
            }
            assert_int_equal(*q, ' ');
            char *end;
            strtod(q + 1, &end);
            assert_true(end > q + 1 && *end == '\0');
            samples++;
        }
        p = e + 1;
    }
    return samples;
}

static void test_render_format(void **state)
{
    (void)state;
    struct st_gw_metrics *m = st_gw_metrics_new();
    char *out;
    size_t len;
    assert_non_null(m);
    /* Empty: still valid, ok series shown. */
    assert_int_equal(st_gw_metrics_render(m, &out, &len), 0);
    assert_int_equal(len, strlen(out));
    assert_true(parse_all(out) > 20);
    assert_int_equal(sample(out, "simtrust_gw_handshakes_total{method=\"x509\",result=\"ok\"}"), 0);
    free(out);

    st_gw_metrics_handshake(m, ST_GW_METHOD_X509, ST_GW_AUTH_OK, 0.003);
    st_gw_metrics_handshake(m, ST_GW_METHOD_X509, ST_GW_AUTH_OK, 2.0);
    st_gw_metrics_handshake(m, ST_GW_METHOD_X509, ST_GW_AUTH_OK, 120.0);
    st_gw_metrics_handshake(m, ST_GW_METHOD_PSK, ST_GW_AUTH_BAD_KEY, 0.5);
    st_gw_metrics_handshake(m, ST_GW_METHOD_BATCH, ST_GW_AUTH_NOT_ALLOWED, 0.5);
    st_gw_metrics_handshake(m, 99, ST_GW_AUTH_TIMEOUT, 60);      /* bad method -> none */
    st_gw_metrics_handshake(NULL, ST_GW_METHOD_PSK, ST_GW_AUTH_OK, 1);
    st_gw_metrics_conn_open(m, ST_GW_TLS);
    st_gw_metrics_conn_open(m, ST_GW_TLS);
    st_gw_metrics_conn_open(m, ST_GW_DTLS);
    st_gw_metrics_conn_close(m, ST_GW_TLS);
    st_gw_metrics_refused(m, ST_GW_REFUSED_LIMIT);
    st_gw_metrics_refused(m, 17);
    st_gw_metrics_bytes(m, 1, 1000);
    st_gw_metrics_bytes(m, 0, 24);
    st_gw_metrics_api(m, 200);
    st_gw_metrics_api(m, 204);
    st_gw_metrics_api(m, 412);
    st_gw_metrics_api(m, 700);
    st_gw_metrics_reload(m, 1);
    st_gw_metrics_reload(m, 0);
    assert_int_equal(st_gw_metrics_active(m, ST_GW_TLS), 1);
    assert_int_equal(st_gw_metrics_active(m, ST_GW_DTLS), 1);

    assert_int_equal(st_gw_metrics_render(m, &out, &len), 0);
    parse_all(out);
    const char *h = "simtrust_gw_handshake_seconds";
    char s[160];
#define S(fmt, ...) (snprintf(s, sizeof(s), fmt, __VA_ARGS__), sample(out, s))
    assert_int_equal(S("%s", "simtrust_gw_handshakes_total{method=\"x509\",result=\"ok\"}"), 3);
    assert_int_equal(S("%s", "simtrust_gw_handshakes_total{method=\"psk\",result=\"bad-key\"}"), 1);
    assert_int_equal(
        S("%s", "simtrust_gw_handshakes_total{method=\"batch-psk\",result=\"not-on-allow-list\"}"), 1);
    assert_int_equal(S("%s", "simtrust_gw_handshakes_total{method=\"none\",result=\"timeout\"}"), 1);
    /* Histogram: successful handshakes only, cumulative, +Inf == count. */
    assert_int_equal(S("%s_bucket{method=\"x509\",le=\"0.0025\"}", h), 0);
    assert_int_equal(S("%s_bucket{method=\"x509\",le=\"0.005\"}", h), 1);
    assert_int_equal(S("%s_bucket{method=\"x509\",le=\"2.5\"}", h), 2);
    assert_int_equal(S("%s_bucket{method=\"x509\",le=\"60\"}", h), 2);
    assert_int_equal(S("%s_bucket{method=\"x509\",le=\"+Inf\"}", h), 3);
    assert_int_equal(S("%s_count{method=\"x509\"}", h), 3);
    assert_float_equal(S("%s_sum{method=\"x509\"}", h), 122.003, 1e-6);
    assert_int_equal(S("%s_count{method=\"psk\"}", h), 0);
    assert_int_equal(S("%s", "simtrust_gw_active_connections{transport=\"tls\"}"), 1);
    assert_int_equal(S("%s", "simtrust_gw_connections_total{transport=\"tls\"}"), 2);
    assert_int_equal(S("%s", "simtrust_gw_connections_refused_total{reason=\"limit\"}"), 1);
    assert_int_equal(S("%s", "simtrust_gw_bytes_total{direction=\"device_to_app\"}"), 1000);
    assert_int_equal(S("%s", "simtrust_gw_bytes_total{direction=\"app_to_device\"}"), 24);
    assert_int_equal(S("%s", "simtrust_gw_api_requests_total{code=\"2xx\"}"), 2);
    assert_int_equal(S("%s", "simtrust_gw_api_requests_total{code=\"4xx\"}"), 1);
    assert_int_equal(S("%s", "simtrust_gw_reloads_total{result=\"error\"}"), 1);
    free(out);
    st_gw_metrics_free(m);
}

static void *worker(void *arg)
{
    struct st_gw_metrics *m = arg;
    for (int i = 0; i < 10000; i++) {
        st_gw_metrics_handshake(m, ST_GW_METHOD_PSK, ST_GW_AUTH_OK, 0.001);
        st_gw_metrics_conn_open(m, ST_GW_TLS);
        st_gw_metrics_conn_close(m, ST_GW_TLS);
    }
    return NULL;
}

/* Lock-free counters stay exact under concurrent updates. */
static void test_threads(void **state)
{
    (void)state;
    struct st_gw_metrics *m = st_gw_metrics_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, m);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *out;
    size_t len;
    assert_int_equal(st_gw_metrics_render(m, &out, &len), 0);
    assert_int_equal(sample(out, "simtrust_gw_handshakes_total{method=\"psk\",result=\"ok\"}"), 40000);
    assert_int_equal(sample(out, "simtrust_gw_handshake_seconds_bucket{method=\"psk\",le=\"0.001\"}"),
                     40000);
    assert_int_equal(st_gw_metrics_active(m, ST_GW_TLS), 0);
    free(out);
    st_gw_metrics_free(m);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(st_gw_method_name(ST_GW_METHOD_BATCH), "batch-psk");
    assert_string_equal(st_gw_method_name(-1), "none");
    assert_string_equal(st_gw_auth_reason_name(ST_GW_AUTH_CERT_UNTRUSTED), "cert-untrusted");
    assert_string_equal(st_gw_auth_reason_name(ST_GW_AUTH_TIMEOUT), "timeout");
    assert_string_equal(st_gw_auth_reason_name(ST_GW_AUTH_REASONS), "unknown");
    for (int r = 0; r < ST_GW_AUTH_REASONS; r++)
        assert_string_not_equal(st_gw_auth_reason_name(r), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_format),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
