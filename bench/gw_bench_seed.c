/*
 * gw_bench_seed: puts stored-PSK devices into a simtrust-gateway registry for
 * bench/gw_bench.sh (simtrust-registry imports certificates and batch groups,
 * but a delivery record never carries a PSK value, and per-device PSKs
 * otherwise come through the REST API).
 *
 *   gw_bench_seed --db FILE --kek FILE --tenant T --group G --psk-file FILE
 *
 * Creates the tenant and a group that allows PSK (replacing a group of that
 * name), then one enabled device per line "identity hexkey" of FILE: device
 * ID = identity, PSK identity = identity, PSK = the key (sealed under the
 * KEK by the registry). One transaction. Prints "seeded N devices".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kek.h"
#include "registry.h"
#include "st_hex.h"

int main(int argc, char **argv)
{
    const char *db = NULL, *kek_path = NULL, *tenant = NULL, *group = NULL, *psk_file = NULL;
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"kek", required_argument, NULL, 'k'},
        {"tenant", required_argument, NULL, 't'}, {"group", required_argument, NULL, 'g'},
        {"psk-file", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'k': kek_path = optarg; break;
        case 't': tenant = optarg; break;
        case 'g': group = optarg; break;
        case 'p': psk_file = optarg; break;
        default: return 2;
        }
    }
    if (!db || !kek_path || !tenant || !group || !psk_file) {
        fputs("usage: gw_bench_seed --db FILE --kek FILE --tenant T --group G --psk-file F\n",
              stderr);
        return 2;
    }
    const char *why = NULL;
    struct st_gw_kek *kek = st_gw_kek_from_file(kek_path, &why);
    if (kek == NULL) {
        fprintf(stderr, "gw_bench_seed: %s: %s\n", kek_path, why ? why : "unusable");
        return 1;
    }
    struct st_reg *r = NULL;
    if (st_reg_open_sqlite(db, kek, 10000, &r) != ST_REG_OK) {
        fprintf(stderr, "gw_bench_seed: cannot open %s\n", db);
        st_gw_kek_free(kek);
        return 1;
    }
    FILE *f = fopen(psk_file, "r");
    if (f == NULL) {
        fprintf(stderr, "gw_bench_seed: cannot open %s\n", psk_file);
        return 1;
    }
    int rc = st_reg_begin(r);
    if (rc == ST_REG_OK)
        rc = st_reg_tenant_put(r, tenant);
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    snprintf(g.tenant, sizeof(g.tenant), "%s", tenant);
    snprintf(g.id, sizeof(g.id), "%s", group);
    g.auth_methods = ST_REG_AUTH_PSK;
    if (rc == ST_REG_OK)
        rc = st_reg_group_put(r, &g, ST_REG_ANY);
    long n = 0;
    char line[512];
    while (rc == ST_REG_OK && fgets(line, sizeof(line), f) != NULL) {
        char *id = strtok(line, " \t\r\n"), *hex = strtok(NULL, " \t\r\n");
        if (id == NULL || id[0] == '#')
            continue;
        struct st_reg_device d;
        memset(&d, 0, sizeof(d));
        size_t hl = hex ? strlen(hex) : 0;
        if (hl == 0 || hl % 2 || hl / 2 > sizeof(d.psk) || strlen(id) > ST_REG_ID_MAX) {
            fprintf(stderr, "gw_bench_seed: bad line for %s\n", id);
            rc = ST_REG_EINVAL;
            break;
        }
        snprintf(d.tenant, sizeof(d.tenant), "%s", tenant);
        snprintf(d.id, sizeof(d.id), "%s", id);
        snprintf(d.group, sizeof(d.group), "%s", group);
        snprintf(d.psk_identity, sizeof(d.psk_identity), "%s", id);
        d.state = ST_REG_ENABLED;
        long kl = st_hex_decode(hex, hl, d.psk, sizeof(d.psk));
        if (kl <= 0)
            rc = ST_REG_EINVAL;
        d.psk_len = kl > 0 ? (size_t)kl : 0;
        if (rc == ST_REG_OK)
            rc = st_reg_device_put(r, &d, ST_REG_ANY);
        st_reg_device_clear(&d);
        n++;
    }
    fclose(f);
    if (rc == ST_REG_OK)
        rc = st_reg_commit(r);
    else
        st_reg_rollback(r);
    if (rc != ST_REG_OK)
        fprintf(stderr, "gw_bench_seed: %s: %s\n", st_reg_strerror(rc), r->errmsg);
    else
        printf("seeded %ld devices into %s/%s\n", n, tenant, group);
    st_reg_close(r);
    st_gw_kek_free(kek);
    return rc == ST_REG_OK ? 0 : 1;
}
