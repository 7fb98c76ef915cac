/*
 * Fuzzes the delivery import JSON input (gateway/delivery_import.c; IoT.04
 * Annex C.1): the batch loader and the record mapper must refuse bad input
 * with a reason; accepted batches are imported into an in-memory registry,
 * twice, and the second import must change nothing (idempotency).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_import.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct st_reg *g_reg;
static struct st_gw_kek *g_kek;

static void setup(void)
{
    static const uint8_t kek[32] = {9};
    struct st_reg_group g;
    g_kek = st_gw_kek_from_bytes(kek);
    if (st_reg_open_sqlite(":memory:", g_kek, 1000, &g_reg) != ST_REG_OK)
        abort();
    st_reg_tenant_put(g_reg, "t");
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "t");
    strcpy(g.id, "fleet");
    g.auth_methods = ST_REG_AUTH_PSK | ST_REG_AUTH_X509;
    st_reg_group_put(g_reg, &g, ST_REG_ANY);
    strcpy(g.id, "meters");
    g.auth_methods = ST_REG_AUTH_BATCH;
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "b1");
    g.kdf = 1;
    g.bmk_len = 32;
    st_reg_group_put(g_reg, &g, ST_REG_ANY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct st_gw_import_stats st;
    if (size > 256 * 1024)
        return 0;
    if (g_reg == NULL)
        setup();
    err[0] = '\0';
    json_t *recs = st_gw_delivery_load((const char *)data, size, err, sizeof(err));
    if (recs == NULL) {
        if (err[0] == '\0')
            abort();
        return 0;
    }
    const char *groups[2] = {"fleet", "meters"};
    for (int gi = 0; gi < 2; gi++) {
        err[0] = '\0';
        int rc = st_gw_import(g_reg, "t", groups[gi], recs, &st, err, sizeof(err));
        if (rc != ST_REG_OK) {
            if (err[0] == '\0' || st.records != 0)
                abort();
            continue;
        }
        if (st.records != json_array_size(recs) || st.created + st.unchanged != st.records)
            abort();
        if (st_gw_import(g_reg, "t", groups[gi], recs, &st, err, sizeof(err)) != ST_REG_OK ||
            st.created != 0 || st.unchanged != json_array_size(recs))
            abort();
    }
    json_decref(recs);
    return 0;
}
