/* Backend-independent helpers of the registry interface. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_secret.h"

void st_reg_group_clear(struct st_reg_group *g)
{
    if (g == NULL)
        return;
    free(g->trust_anchors_pem);
    st_wipe(g, sizeof(*g));
}

void st_reg_device_clear(struct st_reg_device *d)
{
    if (d == NULL)
        return;
    free(d->cert_pem);
    st_wipe(d, sizeof(*d));
}

int st_reg_id_ok(const char *id)
{
    if (id == NULL)
        return 0;
    size_t n = strnlen(id, ST_REG_ID_MAX + 1);
    if (n == 0 || n > ST_REG_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7F)
            return 0;
    return 1;
}

int st_reg_etag(int64_t version, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "\"v%lld\"", (long long)version);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

const char *st_reg_strerror(int rc)
{
    switch (rc) {
    case ST_REG_OK: return "ok";
    case ST_REG_NOTFOUND: return "not found";
    case ST_REG_EINVAL: return "invalid field";
    case ST_REG_EEXISTS: return "already exists";
    case ST_REG_ECONFLICT: return "version mismatch";
    case ST_REG_EREF: return "reference missing or still referenced";
    case ST_REG_ECRYPTO: return "sealed secret fails authentication";
    case ST_REG_EBUSY: return "database busy";
    default: return "storage error";
    }
}

int st_reg_aad(const char *kind, const char *tenant, const char *id, uint8_t *buf, size_t cap)
{
    static const char prefix[] = "simtrust-gw/v1/";
    size_t pl = sizeof(prefix) - 1, kl = strlen(kind), tl = strlen(tenant), il = strlen(id);
    size_t n = pl + kl + 1 + tl + 1 + il;
    if (n > cap)
        return -1;
    memcpy(buf, prefix, pl);
    memcpy(buf + pl, kind, kl);
    buf[pl + kl] = 0;
    memcpy(buf + pl + kl + 1, tenant, tl);
    buf[pl + kl + 1 + tl] = 0;
    memcpy(buf + pl + kl + tl + 2, id, il);
    return (int)n;
}
