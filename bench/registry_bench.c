/*
 * Registry and batch-PSK benchmark (issue 5 "registry lookup time with 1 million
 * device records"). Creates N device records in a temporary SQLite registry and
 * prints: insert rate, delivery-import rate (JSON path, Annex C.1 file form),
 * lookup latency by PSK identity (with the PSK unsealed) and by SPKI SHA-256,
 * misses, and the per-handshake cost of the scenario-5 derivation.
 *
 *   bench/registry_bench --devices 1000000     (manual full run)
 *   bench/registry_bench --devices 2000        (ctest bench-smoke)
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch_psk.h"
#include "delivery_import.h"
#include "psk_resolve.h"
#include "registry.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(const char *what, double *us, size_t n)
{
    qsort(us, n, sizeof(*us), cmp_d);
    printf("%-36s p50 %7.2f us  p99 %7.2f us  (n=%zu)\n", what, us[n / 2],
           us[(size_t)((double)n * 0.99)], n);
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

static void spki_of(unsigned long i, uint8_t out[32])
{
    unsigned int n = 0;
    char buf[32];
    int l = snprintf(buf, sizeof(buf), "spki-%lu", i);
    EVP_Digest(buf, (size_t)l, out, &n, EVP_sha256(), NULL);
}

int main(int argc, char **argv)
{
    unsigned long n = 1000000, lookups = 100000;
    int c;
    static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
                                         {"lookups", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    while ((c = getopt_long(argc, argv, "n:l:h", opts, NULL)) != -1) {
        if (c == 'n')
            n = strtoul(optarg, NULL, 10);
        else if (c == 'l')
            lookups = strtoul(optarg, NULL, 10);
        else {
            printf("usage: registry_bench [--devices N] [--lookups L]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (n < 10)
        n = 10;
    if (lookups > n)
        lookups = n;
    unsigned long m = n / 10 < 100000 ? n / 10 : 100000; /* JSON import size */

    char dir[] = "/tmp/st-regbench-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/registry.db", dir);
    uint8_t kekb[32];
    RAND_bytes(kekb, sizeof(kekb));
    struct st_gw_kek *kek = st_gw_kek_from_bytes(kekb);
    struct st_reg *r = NULL;
    int fails = 0;
    if (st_reg_open_sqlite(path, kek, 5000, &r) != ST_REG_OK)
        return 1;
    st_reg_tenant_put(r, "bench");
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "bench");
    strcpy(g.id, "psk");
    g.auth_methods = ST_REG_AUTH_PSK | ST_REG_AUTH_X509;
    st_reg_group_put(r, &g, ST_REG_CREATE);
    strcpy(g.id, "imported");
    st_reg_group_put(r, &g, ST_REG_CREATE);
    printf("registry_bench: %lu devices, %lu lookups, %s\n", n, lookups, path);

    /* 1. Bulk insert in one transaction (PSK sealed per row). */
    double t0 = now_s();
    st_reg_begin(r);
    for (unsigned long i = 0; i < n; i++) {
        struct st_reg_device d;
        memset(&d, 0, sizeof(d));
        strcpy(d.tenant, "bench");
        strcpy(d.group, "psk");
        snprintf(d.id, sizeof(d.id), "dev-%08lu", i);
        snprintf(d.psk_identity, sizeof(d.psk_identity), "dev-%08lu", i);
        make_iccid(i, d.iccid);
        memset(d.psk, (int)(i & 0xFF), 16);
        d.psk_len = 16;
        d.has_spki = 1;
        spki_of(i, d.spki_sha256);
        if (st_reg_device_put(r, &d, ST_REG_CREATE) != ST_REG_OK) {
            fprintf(stderr, "put %lu: %s\n", i, r->errmsg);
            return 1;
        }
    }
    st_reg_commit(r);
    double t1 = now_s();
    printf("%-34s %10.0f records/s (%.2f s)\n", "insert (one transaction)", (double)n / (t1 - t0),
           t1 - t0);

    /* 2. Delivery import through the JSON path, then the idempotent re-import. */
    size_t cap = (size_t)m * 160 + 16, len = 0;
    char *buf = malloc(cap);
    for (unsigned long i = 0; i < m; i++) {
        char iccid[21];
        make_iccid(n + i, iccid);
        len += (size_t)snprintf(buf + len, cap - len,
                                "{\"iccid\":\"%s\",\"psk_identities\":[{\"secret_id\":\"10\","
                                "\"identity\":\"imp-%08lu\"}]}\n",
                                iccid, i);
    }
    char err[256];
    struct st_gw_import_stats st;
    for (int pass = 0; pass < 2; pass++) {
        t0 = now_s();
        json_t *recs = st_gw_delivery_load(buf, len, err, sizeof(err));
        int rc = recs ? st_gw_import(r, "bench", "imported", recs, &st, err, sizeof(err)) : -1;
        json_decref(recs);
        t1 = now_s();
        if (rc != 0 || st.records != m || (pass == 0 ? st.created : st.unchanged) != m) {
            fprintf(stderr, "import pass %d failed: %s\n", pass, err);
            fails++;
        }
        printf("%-34s %10.0f records/s (%lu records, %.2f s incl. JSON parse)\n",
               pass ? "delivery re-import (no change)" : "delivery import (JSON Lines)",
               (double)m / (t1 - t0), m, t1 - t0);
    }
    free(buf);

    /* 3. Lookups: by PSK identity (PSK unsealed), by SPKI hash, and misses. */
    double *us = malloc(lookups * sizeof(double));
    srand(1);
    for (int kind = 0; kind < 3; kind++) {
        for (unsigned long k = 0; k < lookups; k++) {
            unsigned long i = ((unsigned long)rand() * 7919u + (unsigned long)rand()) % n;
            struct st_reg_device d;
            char id[32];
            uint8_t h[32];
            int rc;
            double a = now_s();
            if (kind == 0) {
                int l = snprintf(id, sizeof(id), "dev-%08lu", i);
                rc = st_reg_device_by_psk_identity(r, id, (size_t)l, &d);
            } else if (kind == 1) {
                spki_of(i, h);
                rc = st_reg_device_by_spki(r, h, &d);
            } else {
                int l = snprintf(id, sizeof(id), "zzz-%08lu", i);
                rc = st_reg_device_by_psk_identity(r, id, (size_t)l, &d);
            }
            us[k] = (now_s() - a) * 1e6;
            if ((kind < 2 && (rc != ST_REG_OK || d.psk_len != 16 || d.psk[0] != (uint8_t)(i & 0xFF))) ||
                (kind == 2 && rc != ST_REG_NOTFOUND))
                fails++;
            st_reg_device_clear(&d);
        }
        pct(kind == 0 ? "lookup by PSK identity (+unseal)"
            : kind == 1 ? "lookup by SPKI SHA-256 (+unseal)"
                        : "lookup of unknown PSK identity",
            us, lookups);
    }

    /* 4. Whole handshake-path resolution: stored PSK vs batch-derived vs unknown. */
    {
        struct st_reg_group bg;
        memset(&bg, 0, sizeof(bg));
        strcpy(bg.tenant, "bench");
        strcpy(bg.id, "batch");
        bg.auth_methods = ST_REG_AUTH_BATCH;
        strcpy(bg.batch_vendor, "MeterCo");
        strcpy(bg.batch_id, "b1");
        bg.kdf = ST_GW_KDF_HMAC_SHA256;
        RAND_bytes(bg.bmk, 32);
        bg.bmk_len = 32;
        if (st_reg_group_put(r, &bg, ST_REG_ANY) != ST_REG_OK)
            fails++;
        st_reg_group_clear(&bg);
        uint8_t decoy[32] = {1}, key[ST_REG_KEY_MAX];
        for (int kind = 0; kind < 3; kind++) {
            for (unsigned long k = 0; k < lookups; k++) {
                unsigned long i = ((unsigned long)rand() * 7919u + (unsigned long)rand()) % n;
                char id[64], iccid[21];
                int l;
                if (kind == 0) {
                    l = snprintf(id, sizeof(id), "dev-%08lu", i);
                } else if (kind == 1) {
                    make_iccid(i, iccid);
                    l = snprintf(id, sizeof(id), "MeterCo:b1:%s", iccid);
                } else {
                    l = snprintf(id, sizeof(id), "zzz-%08lu", i);
                }
                size_t kl;
                struct st_gw_psk_result res;
                double a = now_s();
                int ok = st_gw_psk_resolve(r, decoy, (const uint8_t *)id, (size_t)l, key,
                                           sizeof(key), &kl, &res, NULL);
                us[k] = (now_s() - a) * 1e6;
                if (ok != (kind < 2))
                    fails++;
            }
            pct(kind == 0 ? "resolve stored PSK (handshake path)"
                : kind == 1 ? "resolve batch PSK (handshake path)"
                            : "resolve unknown identity (decoy)",
                us, lookups);
        }
    }

    /* 5. Scenario-5 per-handshake work: parse + derive (no registry row). */
    uint8_t bmk[32], out[32];
    RAND_bytes(bmk, sizeof(bmk));
    const char *ident = "MeterCo:batch-2026-11:89882280000000000014";
    struct st_gw_batch_id bid;
    unsigned long kn = lookups < 20000 ? 20000 : lookups;
    for (int kdf = 1; kdf <= 2; kdf++) {
        t0 = now_s();
        for (unsigned long k = 0; k < kn; k++) {
            if (st_gw_batch_parse((const uint8_t *)ident, strlen(ident), &bid) != 0 ||
                st_gw_batch_derive(kdf, bmk, sizeof(bmk), (const uint8_t *)ident, strlen(ident),
                                   out, sizeof(out)) != 0)
                fails++;
        }
        t1 = now_s();
        printf("%-34s %7.2f us/op\n", kdf == 1 ? "batch parse + HMAC-SHA-256 eUK" :
               "batch parse + HKDF-SHA-256 eUK", (t1 - t0) * 1e6 / (double)kn);
    }
    int64_t gen = 0;
    st_reg_generation(r, &gen);
    printf("registry generation %lld, file %s\n", (long long)gen, path);
    free(us);
    st_reg_close(r);
    st_gw_kek_free(kek);
    char side[80];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    if (fails)
        fprintf(stderr, "registry_bench: %d checks failed\n", fails);
    return fails ? 1 : 0;
}
