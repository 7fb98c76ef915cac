/*
 * Optimistic concurrency of the REST API: clients racing with the same
 * If-Match (or If-None-Match: *) on one record through the MHD thread pool
 * and separate registry connections. Exactly one wins; the others get 412,
 * and the stored record is the winner's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_gw_api_support.h"

#define RACERS 8
#define ROUNDS 5

struct racer {
    struct api_fx *f;
    pthread_barrier_t *go;
    const char *method, *path, *hdr;
    char body[128];
    long status;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct resp x;
    pthread_barrier_wait(r->go);
    req(r->f, r->method, r->path, TOK_A_WRITE, r->body[0] ? r->body : NULL, r->hdr, &x);
    r->status = x.status;
    if (x.status != 200 && x.status != 201 && x.status != 204 && x.status != 412)
        fprintf(stderr, "racer: %ld %s\n", x.status, x.body ? x.body : "");
    resp_free(&x);
    return NULL;
}

/* Runs RACERS requests at once, racer i sending {"group":"g","psk_identity":"<ident>-<i>"}
 * (no body when ident is NULL); returns the index of the only winner (or fails). */
static int run_race(struct api_fx *f, const char *method, const char *path, const char *hdr,
                    const char *ident, long win_status)
{
    pthread_t th[RACERS];
    struct racer rc[RACERS];
    pthread_barrier_t go;
    int winner = -1, lost = 0;
    pthread_barrier_init(&go, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        rc[i] = (struct racer){.f = f, .go = &go, .method = method, .path = path, .hdr = hdr};
        if (ident)
            snprintf(rc[i].body, sizeof(rc[i].body), "{\"group\":\"g\",\"psk_identity\":\"%s-%d\"}",
                     ident, i);
        assert_int_equal(pthread_create(&th[i], NULL, race, &rc[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < RACERS; i++) {
        if (rc[i].status == win_status) {
            if (winner >= 0)
                fail_msg("two winners: %d and %d", winner, i);
            winner = i;
        } else if (rc[i].status == 412) {
            lost++;
        } else {
            fail_msg("racer %d: unexpected status %ld", i, rc[i].status);
        }
    }
    assert_true(winner >= 0);
    assert_int_equal(lost, RACERS - 1);
    return winner;
}

static void test_same_if_match(void **state)
{
    struct api_fx *f = api_fx_start(0);
    struct resp r;
    char etag[64], hdr[96], want[32];
    (void)state;
    assert_int_equal(req(f, "PUT", "/v1/groups/g", TOK_A_WRITE, "{\"auth_methods\":[\"psk\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/d", TOK_A_WRITE,
                         "{\"group\":\"g\",\"psk_identity\":\"start\"}", NULL, &r),
                     201);
    snprintf(etag, sizeof(etag), "%s", r.etag);
    resp_free(&r);
    for (int round = 0; round < ROUNDS; round++) {
        snprintf(hdr, sizeof(hdr), "If-Match: %s", etag);
        char ident[16];
        snprintf(ident, sizeof(ident), "writer%d", round);
        int w = run_race(f, round % 2 ? "PATCH" : "PUT", "/v1/devices/d", hdr, ident, 200);
        /* The stored record is the winner's, one version further. */
        assert_int_equal(req(f, "GET", "/v1/devices/d", TOK_A_READ, NULL, NULL, &r), 200);
        snprintf(want, sizeof(want), "writer%d-%d", round, w);
        assert_string_equal(json_string_value(json_object_get(r.json, "psk_identity")), want);
        char v[32];
        snprintf(v, sizeof(v), "\"v%d\"", round + 2);
        assert_string_equal(r.etag, v);
        snprintf(etag, sizeof(etag), "%s", r.etag);
        resp_free(&r);
    }
    /* Same for DELETE. */
    snprintf(hdr, sizeof(hdr), "If-Match: %s", etag);
    run_race(f, "DELETE", "/v1/devices/d", hdr, NULL, 204);
    assert_int_equal(req(f, "GET", "/v1/devices/d", TOK_A_READ, NULL, NULL, &r), 404);
    resp_free(&r);
    api_fx_stop(f);
}

static void test_create_only(void **state)
{
    struct api_fx *f = api_fx_start(0);
    struct resp r;
    (void)state;
    assert_int_equal(req(f, "PUT", "/v1/groups/g", TOK_A_WRITE, "{\"auth_methods\":[\"psk\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    for (int round = 0; round < ROUNDS; round++) {
        char path[64], want[32], ident[16];
        snprintf(path, sizeof(path), "/v1/devices/new-%d", round);
        snprintf(ident, sizeof(ident), "creator%d", round);
        int w = run_race(f, "PUT", path, "If-None-Match: *", ident, 201);
        assert_int_equal(req(f, "GET", path, TOK_A_READ, NULL, NULL, &r), 200);
        assert_string_equal(r.etag, "\"v1\"");
        snprintf(want, sizeof(want), "creator%d-%d", round, w);
        assert_string_equal(json_string_value(json_object_get(r.json, "psk_identity")), want);
        resp_free(&r);
    }
    api_fx_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_if_match),
        cmocka_unit_test(test_create_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
