/*
 * Device registry of simtrust-gateway (IoT.04 M2: the server middleware manages
 * the public credentials of the client applications; 3.3.2.2 services).
 *
 * A storage interface (struct st_reg_ops) so that PostgreSQL can implement it
 * later; SQLite (registry_sqlite.c) is the embedded default. One st_reg handle
 * is one database connection: use one per thread.
 *
 * Records: tenants; groups (authentication methods, trust anchors, batch
 * parameters of scenario 5 with the BMK sealed under the KEK); devices
 * (state, ICCID, certificate + SPKI SHA-256, PSK identity + PSK sealed under
 * the KEK); ICCID allow-list rows of a batch group. Every record carries a
 * version (the REST API's ETag); every change bumps a registry-wide
 * generation counter that caches compare against.
 *
 * Version argument of the put/delete calls ("expected"):
 *   ST_REG_CREATE (-1)  create only (If-None-Match: *), ST_REG_EEXISTS if present
 *   ST_REG_ANY    (0)   create or replace unconditionally
 *   v > 0               replace only if the stored version is v (If-Match),
 *                       else ST_REG_ECONFLICT (HTTP 412)
 */
#ifndef SIMTRUST_GW_REGISTRY_H
#define SIMTRUST_GW_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "kek.h"

#define ST_REG_ID_MAX 64        /* tenant, group and device IDs: 1..64 bytes of UTF-8 */
#define ST_REG_PSK_ID_MAX 128   /* TLS PSK identity (RFC 4279 allows 2^16-1; OpenSSL 128) */
#define ST_REG_KEY_MAX 64       /* PSK and BMK bytes */

#define ST_REG_CREATE (-1)
#define ST_REG_ANY 0

enum st_reg_rc {
    ST_REG_OK = 0,
    ST_REG_NOTFOUND = 1,
    ST_REG_ERR = -1,       /* storage or internal error */
    ST_REG_EINVAL = -2,    /* bad field (length, state, kdf...) */
    ST_REG_EEXISTS = -3,   /* unique key taken (id, PSK identity, SPKI, batch) */
    ST_REG_ECONFLICT = -4, /* version precondition failed */
    ST_REG_EREF = -5,      /* referenced record missing, or record still referenced */
    ST_REG_ECRYPTO = -6,   /* sealed secret fails to open (tampered or wrong KEK) */
    ST_REG_EBUSY = -7,     /* database locked beyond the busy timeout */
};

/* Authentication methods of a group (bit mask). */
#define ST_REG_AUTH_X509 0x1u
#define ST_REG_AUTH_PSK 0x2u
#define ST_REG_AUTH_BATCH 0x4u

enum st_reg_state { ST_REG_ENABLED = 0, ST_REG_DISABLED = 1, ST_REG_REVOKED = 2 };

struct st_reg_group {
    char tenant[ST_REG_ID_MAX + 1];
    char id[ST_REG_ID_MAX + 1];
    unsigned auth_methods;      /* ST_REG_AUTH_* */
    char *trust_anchors_pem;    /* heap, may be NULL; freed by st_reg_group_clear */
    /* Scenario 5 batch (auth_methods & ST_REG_AUTH_BATCH): */
    char batch_vendor[33];
    char batch_id[33];
    int kdf;                    /* enum st_gw_kdf */
    uint8_t bmk[ST_REG_KEY_MAX];/* plaintext only in memory; sealed in the store */
    size_t bmk_len;
    int allowlist;              /* 1: only ICCIDs on the group's allow-list */
    int64_t version;            /* out */
};

struct st_reg_device {
    char tenant[ST_REG_ID_MAX + 1];
    char id[ST_REG_ID_MAX + 1];
    char group[ST_REG_ID_MAX + 1];
    int state;                  /* enum st_reg_state */
    char iccid[21];             /* "" when unknown */
    int has_spki;
    uint8_t spki_sha256[32];    /* SHA-256 of the DER SubjectPublicKeyInfo */
    char *cert_pem;             /* heap, may be NULL */
    char psk_identity[ST_REG_PSK_ID_MAX + 1]; /* "" when none */
    uint8_t psk[ST_REG_KEY_MAX];/* plaintext only in memory; sealed in the store */
    size_t psk_len;
    int64_t version;            /* out */
};

struct st_reg;

struct st_reg_ops {
    void (*close)(struct st_reg *r);
    int (*begin)(struct st_reg *r);
    int (*commit)(struct st_reg *r);
    int (*rollback)(struct st_reg *r);
    int (*generation)(struct st_reg *r, int64_t *gen);

    int (*tenant_put)(struct st_reg *r, const char *tenant);
    int (*tenant_exists)(struct st_reg *r, const char *tenant);

    int (*group_put)(struct st_reg *r, struct st_reg_group *g, int64_t expected);
    int (*group_get)(struct st_reg *r, const char *tenant, const char *id, struct st_reg_group *g);
    int (*group_by_batch)(struct st_reg *r, const char *vendor, const char *batch,
                          struct st_reg_group *g);
    int (*group_delete)(struct st_reg *r, const char *tenant, const char *id, int64_t expected);

    int (*device_put)(struct st_reg *r, struct st_reg_device *d, int64_t expected);
    int (*device_get)(struct st_reg *r, const char *tenant, const char *id,
                      struct st_reg_device *d);
    int (*device_by_psk_identity)(struct st_reg *r, const char *identity, size_t len,
                                  struct st_reg_device *d);
    int (*device_by_spki)(struct st_reg *r, const uint8_t spki_sha256[32],
                          struct st_reg_device *d);
    int (*device_set_state)(struct st_reg *r, const char *tenant, const char *id, int state,
                            int64_t expected, int64_t *new_version);
    int (*device_delete)(struct st_reg *r, const char *tenant, const char *id, int64_t expected);
    /* Devices of a tenant ordered by id, for paging: cb returns non-zero to stop. */
    int (*device_list)(struct st_reg *r, const char *tenant, int64_t offset, int64_t limit,
                       int (*cb)(void *arg, const struct st_reg_device *d), void *arg,
                       int64_t *total);

    int (*allow_add)(struct st_reg *r, const char *tenant, const char *group, const char *iccid);
    int (*allow_remove)(struct st_reg *r, const char *tenant, const char *group,
                        const char *iccid);
    int (*allow_has)(struct st_reg *r, const char *tenant, const char *group, const char *iccid);

    /* Listings for the REST API (paging by offset/limit, *total = all rows
     * matching, regardless of the page). Listings never open sealed secrets:
     * bmk_len/psk_len are 0 in the records passed to cb. */
    /* Groups of a tenant ordered by id. */
    int (*group_list)(struct st_reg *r, const char *tenant, int64_t offset, int64_t limit,
                      int (*cb)(void *arg, const struct st_reg_group *g), void *arg,
                      int64_t *total);
    /* Devices of one group of a tenant ordered by id. */
    int (*device_list_group)(struct st_reg *r, const char *tenant, const char *group,
                             int64_t offset, int64_t limit,
                             int (*cb)(void *arg, const struct st_reg_device *d), void *arg,
                             int64_t *total);
    /* ICCIDs on a group's allow-list in ascending order. */
    int (*allow_list)(struct st_reg *r, const char *tenant, const char *group, int64_t offset,
                      int64_t limit, int (*cb)(void *arg, const char *iccid), void *arg,
                      int64_t *total);
};

struct st_reg {
    const struct st_reg_ops *ops;
    struct st_gw_kek *kek; /* borrowed; must outlive the handle */
    char errmsg[256];      /* last error detail, for logs (never secret) */
};

/*
 * Opens (creating if needed) a SQLite registry: WAL journal, busy timeout
 * busy_ms, prepared statements. path ":memory:" works for tests.
 */
int st_reg_open_sqlite(const char *path, struct st_gw_kek *kek, int busy_ms, struct st_reg **out);

/* Thin dispatchers (NULL-safe close). */
static inline void st_reg_close(struct st_reg *r)
{
    if (r)
        r->ops->close(r);
}
#define st_reg_begin(r) ((r)->ops->begin(r))
#define st_reg_commit(r) ((r)->ops->commit(r))
#define st_reg_rollback(r) ((r)->ops->rollback(r))
#define st_reg_generation(r, g) ((r)->ops->generation((r), (g)))
#define st_reg_tenant_put(r, t) ((r)->ops->tenant_put((r), (t)))
#define st_reg_tenant_exists(r, t) ((r)->ops->tenant_exists((r), (t)))
#define st_reg_group_put(r, g, v) ((r)->ops->group_put((r), (g), (v)))
#define st_reg_group_get(r, t, i, g) ((r)->ops->group_get((r), (t), (i), (g)))
#define st_reg_group_by_batch(r, v, b, g) ((r)->ops->group_by_batch((r), (v), (b), (g)))
#define st_reg_group_delete(r, t, i, v) ((r)->ops->group_delete((r), (t), (i), (v)))
#define st_reg_device_put(r, d, v) ((r)->ops->device_put((r), (d), (v)))
#define st_reg_device_get(r, t, i, d) ((r)->ops->device_get((r), (t), (i), (d)))
#define st_reg_device_by_psk_identity(r, s, n, d) \
    ((r)->ops->device_by_psk_identity((r), (s), (n), (d)))
#define st_reg_device_by_spki(r, h, d) ((r)->ops->device_by_spki((r), (h), (d)))
#define st_reg_device_set_state(r, t, i, s, v, nv) \
    ((r)->ops->device_set_state((r), (t), (i), (s), (v), (nv)))
#define st_reg_device_delete(r, t, i, v) ((r)->ops->device_delete((r), (t), (i), (v)))
#define st_reg_device_list(r, t, o, l, cb, a, tot) \
    ((r)->ops->device_list((r), (t), (o), (l), (cb), (a), (tot)))
#define st_reg_allow_add(r, t, g, i) ((r)->ops->allow_add((r), (t), (g), (i)))
#define st_reg_allow_remove(r, t, g, i) ((r)->ops->allow_remove((r), (t), (g), (i)))
#define st_reg_allow_has(r, t, g, i) ((r)->ops->allow_has((r), (t), (g), (i)))
#define st_reg_group_list(r, t, o, l, cb, a, tot) \
    ((r)->ops->group_list((r), (t), (o), (l), (cb), (a), (tot)))
#define st_reg_device_list_group(r, t, g, o, l, cb, a, tot) \
    ((r)->ops->device_list_group((r), (t), (g), (o), (l), (cb), (a), (tot)))
#define st_reg_allow_list(r, t, g, o, l, cb, a, tot) \
    ((r)->ops->allow_list((r), (t), (g), (o), (l), (cb), (a), (tot)))

/* Frees heap fields and wipes the key material of a record (reusable after). */
void st_reg_group_clear(struct st_reg_group *g);
void st_reg_device_clear(struct st_reg_device *d);

/* Valid ID: 1..64 bytes, no control characters. */
int st_reg_id_ok(const char *id);

/* Strong ETag of a record version: "\"v<version>\"" into buf. */
int st_reg_etag(int64_t version, char *buf, size_t cap);

const char *st_reg_strerror(int rc);

/* AAD binding a sealed secret to its row (registry_common.c):
 * "simtrust-gw/v1/" kind "\0" tenant "\0" id. Returns length or -1. */
int st_reg_aad(const char *kind, const char *tenant, const char *id, uint8_t *buf, size_t cap);

#endif
