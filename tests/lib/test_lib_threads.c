/*
 * Thread rule of libsimtrust (simtrust/apdu.h): one st_sim / st_iotsafe
 * shared by threads, with the pthread lock (lib/platform/pthread_lock.c),
 * never interleaves APDU sequences. Two threads run many multi-APDU IoT
 * SAFE operations (sign = close/open/update/GET RESPONSE/close, verify,
 * object lists with 6300 continuations, READ FILE chunks, PUT PUBLIC KEY +
 * DH, HKDF) against one T=0-style card. A checking transport between the
 * library and the card asserts that it is never entered twice at once and
 * logs which operation every APDU belongs to; afterwards each operation's
 * APDUs must form one contiguous run of the log.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "card_fixture.h"
#include "inproc_transport.h"
#include "simtrust/iotsafe.h"
#include "simtrust/pthread_lock.h"

#define ROUNDS 60
#define LOG_MAX 100000

static _Thread_local unsigned t_op; /* the operation the calling thread is in */

static struct {
    struct st_inproc ip;
    struct st_transport inner;
    atomic_int busy;
    atomic_int overlaps;
    pthread_mutex_t log_mutex;
    unsigned log[LOG_MAX];
    size_t n;
} X;

static int checking_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    (void)ctx;
    if (atomic_fetch_add(&X.busy, 1) != 0)
        atomic_fetch_add(&X.overlaps, 1);
    pthread_mutex_lock(&X.log_mutex);
    if (X.n < LOG_MAX)
        X.log[X.n++] = t_op;
    pthread_mutex_unlock(&X.log_mutex);
    int rc = X.inner.ops->transmit(X.inner.ctx, c, clen, r, rlen);
    atomic_fetch_sub(&X.busy, 1);
    return rc;
}

static const struct st_transport_ops checking_ops = {.name = "check",
                                                     .transmit = checking_transmit};

static struct st_sim g_sim;
static struct st_iotsafe g_ios;
static struct st_pthread_lock g_lock;
static EVP_PKEY *g_pub01;
static atomic_int g_failures;
static pthread_barrier_t g_start;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #cond);                      \
            atomic_fetch_add(&g_failures, 1);                                                      \
        }                                                                                          \
    } while (0)

static void *signer(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg * 1000000u;
    uint8_t ref_id = 0x01, file_id = 0x02;
    struct st_iotsafe_ref k, f;
    st_iotsafe_ref_id(&k, &ref_id, 1);
    st_iotsafe_ref_id(&f, &file_id, 1);
    pthread_barrier_wait(&g_start);
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint8_t dig[32], sig[64], buf[700];
        size_t sl = sizeof sig, n = sizeof buf;
        memset(dig, (int)i, sizeof dig);
        t_op = base + 3 * i;
        CHECK(st_iotsafe_sign_digest(&g_ios, &k, dig, 32, sig, &sl) == ST_OK);
        CHECK(cfx_ecdsa_ok(g_pub01, dig, 32, sig));
        t_op = base + 3 * i + 1;
        CHECK(st_iotsafe_verify_digest(&g_ios, &k, dig, 32, sig, 64) == ST_OK);
        t_op = base + 3 * i + 2;
        CHECK(st_iotsafe_read_file(&g_ios, &f, buf, &n) == ST_OK);
        CHECK(n == 600 && buf[599] == (uint8_t)599);
        sched_yield();
    }
    return NULL;
}

static void *lister(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg * 1000000u;
    uint8_t id4 = 0x04, id5 = 0x05, zero[32] = {0};
    struct st_iotsafe_ref k4, p5;
    st_iotsafe_ref_id(&k4, &id4, 1);
    st_iotsafe_ref_id(&p5, &id5, 1);
    EVP_PKEY *host = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    uint8_t pt[65];
    cfx_ec_point(host, pt);
    EVP_PKEY_free(host);
    struct st_iotsafe_pubkey pk;
    st_iotsafe_pubkey_ec(&pk, pt, 65);
    pthread_barrier_wait(&g_start);
    for (unsigned i = 0; i < ROUNDS; i++) {
        struct st_iotsafe_object objs[40];
        size_t cnt = 40;
        t_op = base + 4 * i;
        CHECK(st_iotsafe_list_objects(&g_ios, objs, &cnt) == ST_OK);
        CHECK(cnt == 20);
        struct st_iotsafe_keygen kg;
        t_op = base + 4 * i + 1;
        CHECK(st_iotsafe_generate_key(&g_ios, &k4, &kg) == ST_OK);
        t_op = base + 4 * i + 2;
        CHECK(st_iotsafe_put_public_key(&g_ios, &p5, &pk) == ST_OK);
        uint8_t z[32], prk[32];
        size_t zl = sizeof z, pl = sizeof prk;
        t_op = base + 4 * i + 3;
        /* Held across two calls: the pthread lock is recursive. */
        st_sim_lock(&g_sim);
        CHECK(st_iotsafe_compute_dh(&g_ios, &k4, &p5, z, &zl) == ST_OK);
        CHECK(st_sim_last_sw(&g_sim) == 0x9000);
        const struct st_iotsafe_key_input ikm = {.bytes = z, .len = 32};
        CHECK(st_iotsafe_hkdf_extract(&g_ios, 0, &ikm, zero, 32, prk, &pl) == ST_OK);
        st_sim_unlock(&g_sim);
        sched_yield();
    }
    return NULL;
}

static void test_two_threads(void **st)
{
    (void)st;
    struct st_card_config cc = {.t0_style = true};
    char err[100];
    /* The fixture card plus a 600-byte file. */
    static struct st_card_state s;
    memcpy(&s, cfx_state(), sizeof s);
    struct st_object *o = st_objects_alloc(&s, ST_OBJ_FILE);
    o->id_len = 1;
    o->id[0] = 0x02;
    o->access = ST_ACCESS_READ;
    for (int i = 0; i < 600; i++)
        o->value[i] = (uint8_t)i;
    o->value_len = 600;
    st_card *card = st_card_new(&cc, &s, err, sizeof err);
    assert_non_null(card);
    const struct st_object *pub =
        st_objects_find(&s, ST_OBJ_PUBLIC_KEY, false, (const uint8_t *)"\x01", 1);
    g_pub01 = cfx_public_pkey(pub->key_type, pub->value, pub->value_len);

    pthread_mutex_init(&X.log_mutex, NULL);
    st_inproc_init(&X.ip, card, &X.inner, 0);
    struct st_transport tr = {&checking_ops, NULL, 0};
    st_sim_init(&g_sim, &tr);
    assert_int_equal(st_sim_use_pthread_lock(&g_sim, &g_lock), ST_OK);
    assert_int_equal(st_iotsafe_init(&g_ios, &g_sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&g_ios), ST_OK);

    pthread_t a, b;
    pthread_barrier_init(&g_start, NULL, 2);
    assert_int_equal(pthread_create(&a, NULL, signer, (void *)(uintptr_t)1), 0);
    assert_int_equal(pthread_create(&b, NULL, lister, (void *)(uintptr_t)2), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    assert_int_equal(atomic_load(&g_failures), 0);
    assert_int_equal(atomic_load(&X.overlaps), 0);
    assert_true(X.n < LOG_MAX);
    /* Each operation's APDUs are one contiguous run. */
    unsigned switches = 0;
    for (size_t i = 1; i < X.n; i++) {
        if (X.log[i] == X.log[i - 1])
            continue;
        switches++;
        for (size_t j = 0; j < i; j++)
            if (X.log[j] == X.log[i])
                fail_msg("operation %u resumed at APDU %zu after another one", X.log[i], i);
    }
    /* Both threads ran, and the card saw them take turns. */
    unsigned by_thread[3] = {0}, turns = 0;
    for (size_t i = 0; i < X.n; i++) {
        by_thread[X.log[i] / 1000000u]++;
        if (i > 0 && X.log[i] / 1000000u != X.log[i - 1] / 1000000u)
            turns++;
    }
    assert_true(by_thread[1] > ROUNDS * 10);
    assert_true(by_thread[2] > ROUNDS * 10);
    assert_int_equal(switches, 3 * ROUNDS + 4 * ROUNDS); /* one run per operation */
    assert_true(turns >= 2);
    printf("# %zu APDUs, %u operations, %u turns between the threads\n", X.n, switches, turns);
    pthread_barrier_destroy(&g_start);

    assert_int_equal(st_iotsafe_close(&g_ios), ST_OK);
    st_sim_drop_pthread_lock(&g_sim, &g_lock);
    pthread_mutex_destroy(&X.log_mutex);
    EVP_PKEY_free(g_pub01);
    st_card_free(card);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_two_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
