/*
 * Timing of the handshake-path PSK resolution (issue 5 item 2: "the time to
 * reject an unknown PSK identity does not depend on whether it exists";
 * IoT.04 M1/M2, scenarios 3-5). Builds a temporary SQLite registry with N
 * devices holding stored PSKs plus a batch group (scenario 5, HKDF-SHA-256,
 * allow-list), then resolves identities of five kinds, interleaved round by
 * round so that drift hits every kind alike, and prints median and p90 in
 * microseconds:
 *
 *   known-psk      stored PSK of an enabled device (key unsealed)
 *   unknown-psk    identity of the same shape that no device has
 *   known-batch    vendor:batch:ICCID of an existing batch group, ICCID allowed
 *   unknown-batch  same shape, batch group absent
 *   refused        stored PSK identity of a revoked device
 *
 * A benchmark, not a test: the numbers depend on the machine.
 *   bench/gw_psk_timing [--devices 100000] [--rounds 20000]
 */
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch_psk.h"
#include "psk_resolve.h"
#include "registry.h"
#include "st_secret.h"

enum { K_KNOWN, K_UNKNOWN, K_BATCH, K_UNBATCH, K_REFUSED, K_COUNT };
static const char *const k_names[K_COUNT] = {"known-psk", "unknown-psk", "known-batch",
                                             "unknown-batch", "refused (revoked)"};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 20-digit ICCID 8988<15-digit serial><Luhn>. */
static void make_iccid(unsigned long serial, char out[21])
{
    char tmp[40];
    snprintf(tmp, sizeof(tmp), "8988%015lu0", serial % 1000000000000000ul);
    memcpy(out, tmp, 21);
    for (int d = 0; d < 10; d++) {
        out[19] = (char)('0' + d);
        if (st_gw_luhn_ok(out, 20))
            return;
    }
}

static unsigned long rnd(unsigned long n)
{
    unsigned long v;
    RAND_bytes((unsigned char *)&v, sizeof(v));
    return v % n;
}

int main(int argc, char **argv)
{
    unsigned long n = 100000, rounds = 20000;
    int c;
    static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
                                         {"rounds", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "n:r:h", opts, NULL)) != -1) {
        if (c == 'n')
            n = strtoul(optarg, NULL, 10);
        else if (c == 'r')
            rounds = strtoul(optarg, NULL, 10);
        else {
            printf("usage: gw_psk_timing [--devices N] [--rounds R]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (n < 100)
        n = 100;
    if (rounds < 10)
        rounds = 10;

    char dir[] = "/tmp/st-psktiming-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/registry.db", dir);
    uint8_t kekb[32], decoy[32];
    RAND_bytes(kekb, sizeof(kekb));
    RAND_bytes(decoy, sizeof(decoy));
    struct st_gw_kek *kek = st_gw_kek_from_bytes(kekb);
    struct st_reg *r = NULL;
    if (kek == NULL || st_reg_open_sqlite(path, kek, 5000, &r) != ST_REG_OK)
        return 1;
    struct st_gw_psk_balance bal;
    if (st_gw_psk_balance_init(&bal, kek) != 0)
        return 1;
    st_reg_tenant_put(r, "bench");
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "bench");
    strcpy(g.id, "psk");
    g.auth_methods = ST_REG_AUTH_PSK;
    st_reg_group_put(r, &g, ST_REG_CREATE);
    strcpy(g.id, "meters");
    g.auth_methods = ST_REG_AUTH_BATCH;
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "b1");
    g.kdf = ST_GW_KDF_HKDF_SHA256;
    RAND_bytes(g.bmk, 32);
    g.bmk_len = 32;
    g.allowlist = 1;
    st_reg_group_put(r, &g, ST_REG_CREATE);
    st_reg_group_clear(&g);

    printf("gw_psk_timing: %lu devices (+%lu batch allow-list rows), %lu rounds, %s\n", n, n,
           rounds, path);
    st_reg_begin(r);
    for (unsigned long i = 0; i < n; i++) {
        struct st_reg_device d;
        char iccid[21];
        memset(&d, 0, sizeof(d));
        strcpy(d.tenant, "bench");
        strcpy(d.group, "psk");
        snprintf(d.id, sizeof(d.id), "dev-%08lu", i);
        snprintf(d.psk_identity, sizeof(d.psk_identity), "psk-id-%08lu", i);
        d.psk_len = 32;
        RAND_bytes(d.psk, 32);
        d.state = i % 100 == 99 ? ST_REG_REVOKED : ST_REG_ENABLED;
        if (st_reg_device_put(r, &d, ST_REG_CREATE) != ST_REG_OK) {
            fprintf(stderr, "insert %lu: %s\n", i, r->errmsg);
            return 1;
        }
        st_reg_device_clear(&d);
        make_iccid(i, iccid);
        st_reg_allow_add(r, "bench", "meters", iccid);
    }
    if (st_reg_commit(r) != ST_REG_OK)
        return 1;

    double *us[K_COUNT];
    for (int k = 0; k < K_COUNT; k++)
        us[k] = calloc(rounds, sizeof(double));
    int wrong = 0;
    for (unsigned long i = 0; i < rounds; i++) {
        for (int k = 0; k < K_COUNT; k++) {
            char id[ST_REG_PSK_ID_MAX + 1], iccid[21];
            unsigned long j = rnd(n);
            switch (k) {
            case K_KNOWN:
                j -= j % 100 == 99;
                snprintf(id, sizeof(id), "psk-id-%08lu", j);
                break;
            case K_UNKNOWN:
                snprintf(id, sizeof(id), "psk-xx-%08lu", j);
                break;
            case K_BATCH:
                make_iccid(j, iccid);
                snprintf(id, sizeof(id), "MeterCo:b1:%s", iccid);
                break;
            case K_UNBATCH:
                make_iccid(j, iccid);
                snprintf(id, sizeof(id), "MeterCo:b9:%s", iccid);
                break;
            default:
                snprintf(id, sizeof(id), "psk-id-%08lu", j - j % 100 + 99 < n ? j - j % 100 + 99 : 99);
                break;
            }
            uint8_t key[ST_REG_KEY_MAX];
            size_t kl = 0;
            struct st_gw_psk_result res;
            double t0 = now_us();
            int ok = st_gw_psk_resolve_ct(r, decoy, &bal, (const uint8_t *)id, strlen(id), key,
                                          sizeof(key), &kl, &res, NULL);
            us[k][i] = now_us() - t0;
            st_wipe(key, sizeof(key));
            wrong += ok != (k == K_KNOWN || k == K_BATCH);
        }
    }
    for (int k = 0; k < K_COUNT; k++) {
        qsort(us[k], rounds, sizeof(double), cmp_d);
        printf("%-18s median %7.2f us  p90 %7.2f us\n", k_names[k], us[k][rounds / 2],
               us[k][(size_t)((double)rounds * 0.9)]);
        free(us[k]);
    }
    if (wrong)
        printf("WARNING: %d resolutions with an unexpected result\n", wrong);
    st_reg_close(r);
    st_gw_kek_free(kek);
    unlink(path);
    char side[80];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    return wrong ? 1 : 0;
}
