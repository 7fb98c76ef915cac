/*
 * SQLite backend of the registry interface (registry.h): WAL journal,
 * busy timeout, persistent prepared statements, secrets sealed under the KEK
 * with the row's key as AAD (IoT.04 M2; ARCHITECTURE "Secrets").
 */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "registry.h"
#include "st_secret.h"

enum stmt_id {
    S_GEN_GET, S_GEN_BUMP,
    S_TENANT_PUT, S_TENANT_GET,
    S_GROUP_VER, S_GROUP_INS, S_GROUP_UPD, S_GROUP_GET, S_GROUP_BATCH, S_GROUP_DEL,
    S_DEV_VER, S_DEV_INS, S_DEV_UPD, S_DEV_GET, S_DEV_PSK, S_DEV_SPKI, S_DEV_STATE, S_DEV_DEL,
    S_DEV_LIST, S_DEV_COUNT,
    S_ALLOW_ADD, S_ALLOW_DEL, S_ALLOW_HAS,
    S_GROUP_LIST, S_GROUP_COUNT, S_DEV_LIST_GRP, S_DEV_COUNT_GRP, S_ALLOW_LIST, S_ALLOW_COUNT,
    S_COUNT
};

#define DEV_COLS "tenant,id,grp,state,iccid,spki,cert,psk_identity,psk,version"
#define GRP_COLS "tenant,id,auth,anchors,batch_vendor,batch_id,kdf,bmk,allowlist,version"

static const char *const k_sql[S_COUNT] = {
    [S_GEN_GET] = "SELECT v FROM meta WHERE k='generation'",
    [S_GEN_BUMP] = "UPDATE meta SET v=v+1 WHERE k='generation'",
    [S_TENANT_PUT] = "INSERT INTO tenants(id,version) VALUES(?1,1) ON CONFLICT(id) DO NOTHING",
    [S_TENANT_GET] = "SELECT 1 FROM tenants WHERE id=?1",
    [S_GROUP_VER] = "SELECT version FROM groups WHERE tenant=?1 AND id=?2",
    [S_GROUP_INS] = "INSERT INTO groups(" GRP_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,1)",
    [S_GROUP_UPD] = "UPDATE groups SET auth=?3,anchors=?4,batch_vendor=?5,batch_id=?6,kdf=?7,"
                    "bmk=?8,allowlist=?9,version=version+1 WHERE tenant=?1 AND id=?2",
    [S_GROUP_GET] = "SELECT " GRP_COLS " FROM groups WHERE tenant=?1 AND id=?2",
    [S_GROUP_BATCH] = "SELECT " GRP_COLS " FROM groups WHERE batch_vendor=?1 AND batch_id=?2",
    [S_GROUP_DEL] = "DELETE FROM groups WHERE tenant=?1 AND id=?2 AND (?3=0 OR version=?3)",
    [S_DEV_VER] = "SELECT version FROM devices WHERE tenant=?1 AND id=?2",
    [S_DEV_INS] = "INSERT INTO devices(" DEV_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,1)",
    [S_DEV_UPD] = "UPDATE devices SET grp=?3,state=?4,iccid=?5,spki=?6,cert=?7,psk_identity=?8,"
                  "psk=?9,version=version+1 WHERE tenant=?1 AND id=?2",
    [S_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE tenant=?1 AND id=?2",
    [S_DEV_PSK] = "SELECT " DEV_COLS " FROM devices WHERE psk_identity=?1",
    [S_DEV_SPKI] = "SELECT " DEV_COLS " FROM devices WHERE spki=?1",
    [S_DEV_STATE] = "UPDATE devices SET state=?3,version=version+1 WHERE tenant=?1 AND id=?2 "
                    "AND (?4=0 OR version=?4) RETURNING version",
    [S_DEV_DEL] = "DELETE FROM devices WHERE tenant=?1 AND id=?2 AND (?3=0 OR version=?3)",
    [S_DEV_LIST] = "SELECT " DEV_COLS " FROM devices WHERE tenant=?1 ORDER BY id LIMIT ?2 OFFSET ?3",
    [S_DEV_COUNT] = "SELECT count(*) FROM devices WHERE tenant=?1",
    [S_ALLOW_ADD] = "INSERT INTO allowlist(tenant,grp,iccid) VALUES(?1,?2,?3) "
                    "ON CONFLICT DO NOTHING",
    [S_ALLOW_DEL] = "DELETE FROM allowlist WHERE tenant=?1 AND grp=?2 AND iccid=?3",
    [S_ALLOW_HAS] = "SELECT 1 FROM allowlist WHERE tenant=?1 AND grp=?2 AND iccid=?3",
    [S_GROUP_LIST] = "SELECT " GRP_COLS " FROM groups WHERE tenant=?1 ORDER BY id LIMIT ?2 OFFSET ?3",
    [S_GROUP_COUNT] = "SELECT count(*) FROM groups WHERE tenant=?1",
    [S_DEV_LIST_GRP] = "SELECT " DEV_COLS " FROM devices WHERE tenant=?1 AND grp=?4 "
                       "ORDER BY id LIMIT ?2 OFFSET ?3",
    [S_DEV_COUNT_GRP] = "SELECT count(*) FROM devices WHERE tenant=?1 AND grp=?2",
    [S_ALLOW_LIST] = "SELECT iccid FROM allowlist WHERE tenant=?1 AND grp=?4 "
                     "ORDER BY iccid LIMIT ?2 OFFSET ?3",
    [S_ALLOW_COUNT] = "SELECT count(*) FROM allowlist WHERE tenant=?1 AND grp=?2",
};

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('generation',0);"
    "CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY, version INTEGER NOT NULL) "
    "  WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS groups(tenant TEXT NOT NULL REFERENCES tenants(id),"
    "  id TEXT NOT NULL, auth INTEGER NOT NULL, anchors TEXT, batch_vendor TEXT,"
    "  batch_id TEXT, kdf INTEGER, bmk BLOB, allowlist INTEGER NOT NULL DEFAULT 0,"
    "  version INTEGER NOT NULL, PRIMARY KEY(tenant,id));"
    "CREATE UNIQUE INDEX IF NOT EXISTS groups_batch ON groups(batch_vendor,batch_id);"
    "CREATE TABLE IF NOT EXISTS devices(tenant TEXT NOT NULL, id TEXT NOT NULL,"
    "  grp TEXT NOT NULL, state INTEGER NOT NULL, iccid TEXT, spki BLOB, cert TEXT,"
    "  psk_identity TEXT, psk BLOB, version INTEGER NOT NULL, PRIMARY KEY(tenant,id),"
    "  FOREIGN KEY(tenant,grp) REFERENCES groups(tenant,id));"
    "CREATE UNIQUE INDEX IF NOT EXISTS devices_psk ON devices(psk_identity);"
    "CREATE UNIQUE INDEX IF NOT EXISTS devices_spki ON devices(spki);"
    "CREATE INDEX IF NOT EXISTS devices_grp ON devices(tenant,grp);"
    "CREATE TABLE IF NOT EXISTS allowlist(tenant TEXT NOT NULL, grp TEXT NOT NULL,"
    "  iccid TEXT NOT NULL, PRIMARY KEY(tenant,grp,iccid),"
    "  FOREIGN KEY(tenant,grp) REFERENCES groups(tenant,id) ON DELETE CASCADE) WITHOUT ROWID;"
    "PRAGMA user_version=1;";

struct sreg {
    struct st_reg base; /* first: st_reg* <-> sreg* */
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    int own_txn; /* the running op opened the transaction itself */
    int dirty;   /* the caller's transaction changed something */
};

static struct sreg *S(struct st_reg *r) { return (struct sreg *)r; }

static void set_err(struct sreg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct sreg *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->base.errmsg, sizeof(s->base.errmsg), fmt, ap);
    va_end(ap);
}

static int map_rc(struct sreg *s, int rc)
{
    int x = sqlite3_extended_errcode(s->db);
    set_err(s, "sqlite: %s", sqlite3_errmsg(s->db));
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return ST_REG_EBUSY;
    if (x == SQLITE_CONSTRAINT_UNIQUE || x == SQLITE_CONSTRAINT_PRIMARYKEY)
        return ST_REG_EEXISTS;
    if (x == SQLITE_CONSTRAINT_FOREIGNKEY)
        return ST_REG_EREF;
    return ST_REG_ERR;
}

static sqlite3_stmt *stmt(struct sreg *s, enum stmt_id id)
{
    if (s->st[id] == NULL &&
        sqlite3_prepare_v3(s->db, k_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
            SQLITE_OK) {
        set_err(s, "prepare: %s", sqlite3_errmsg(s->db));
        return NULL;
    }
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

static void done(sqlite3_stmt *q)
{
    if (q) {
        sqlite3_clear_bindings(q); /* drop pointers to sealed blobs and identities */
        sqlite3_reset(q);
    }
}

static int exec(struct sreg *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ST_REG_OK : map_rc(s, rc);
}

static void bind_text(sqlite3_stmt *q, int i, const char *t)
{
    if (t == NULL || *t == '\0')
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_text(q, i, t, -1, SQLITE_STATIC);
}

/*
 * Mutations run in their own IMMEDIATE transaction (generation bumped with
 * them), or inside the caller's transaction: a failing statement is undone by
 * SQLite's statement journal, and the generation is bumped once at commit.
 */
static int op_begin(struct sreg *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        s->own_txn = 1;
        return exec(s, "BEGIN IMMEDIATE");
    }
    s->own_txn = 0;
    return ST_REG_OK;
}

static int bump_generation(struct sreg *s)
{
    sqlite3_stmt *q = stmt(s, S_GEN_BUMP);
    int src = q ? sqlite3_step(q) : SQLITE_ERROR;
    int rc = src == SQLITE_DONE ? ST_REG_OK : q ? map_rc(s, src) : ST_REG_ERR;
    done(q);
    return rc;
}

static int op_end(struct sreg *s, int rc)
{
    if (!s->own_txn) {
        if (rc == ST_REG_OK)
            s->dirty = 1;
        return rc;
    }
    s->own_txn = 0;
    if (rc == ST_REG_OK)
        rc = bump_generation(s);
    if (rc == ST_REG_OK) {
        int crc = exec(s, "COMMIT");
        if (crc != ST_REG_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            rc = crc;
        }
    } else {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

/* ---- transactions, generation, tenants ---- */

static void sq_close(struct st_reg *r)
{
    struct sreg *s = S(r);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

static int sq_begin(struct st_reg *r)
{
    S(r)->dirty = 0;
    return exec(S(r), "BEGIN IMMEDIATE");
}

static int sq_commit(struct st_reg *r)
{
    struct sreg *s = S(r);
    int rc = s->dirty ? bump_generation(s) : ST_REG_OK;
    s->dirty = 0;
    return rc == ST_REG_OK ? exec(s, "COMMIT") : rc;
}

static int sq_rollback(struct st_reg *r)
{
    S(r)->dirty = 0;
    return sqlite3_get_autocommit(S(r)->db) ? ST_REG_OK : exec(S(r), "ROLLBACK");
}

static int sq_generation(struct st_reg *r, int64_t *gen)
{
    struct sreg *s = S(r);
    sqlite3_stmt *q = stmt(s, S_GEN_GET);
    if (q == NULL)
        return ST_REG_ERR;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *gen = sqlite3_column_int64(q, 0);
        rc = ST_REG_OK;
    } else {
        rc = map_rc(s, rc);
    }
    done(q);
    return rc;
}

static int sq_tenant_put(struct st_reg *r, const char *tenant)
{
    struct sreg *s = S(r);
    if (!st_reg_id_ok(tenant))
        return ST_REG_EINVAL;
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    sqlite3_stmt *q = stmt(s, S_TENANT_PUT);
    if (q == NULL)
        return op_end(s, ST_REG_ERR);
    bind_text(q, 1, tenant);
    int src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    return op_end(s, rc);
}

/* Runs a one-row existence query with up to three text parameters. */
static int exists3(struct sreg *s, enum stmt_id id, const char *a, const char *b, const char *c)
{
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, a);
    if (b)
        bind_text(q, 2, b);
    if (c)
        bind_text(q, 3, c);
    int src = sqlite3_step(q);
    int rc = src == SQLITE_ROW ? ST_REG_OK : src == SQLITE_DONE ? ST_REG_NOTFOUND : map_rc(s, src);
    done(q);
    return rc;
}

static int sq_tenant_exists(struct st_reg *r, const char *tenant)
{
    return exists3(S(r), S_TENANT_GET, tenant, NULL, NULL);
}

/* Current version of a row (0 when absent) checked against expected. */
static int check_version(struct sreg *s, enum stmt_id id, const char *tenant, const char *key,
                         int64_t expected, int64_t *cur)
{
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, tenant);
    bind_text(q, 2, key);
    int src = sqlite3_step(q);
    int rc = ST_REG_OK;
    *cur = 0;
    if (src == SQLITE_ROW)
        *cur = sqlite3_column_int64(q, 0);
    else if (src != SQLITE_DONE)
        rc = map_rc(s, src);
    done(q);
    if (rc != ST_REG_OK)
        return rc;
    if (expected == ST_REG_CREATE && *cur != 0) {
        set_err(s, "%s/%s already exists", tenant, key);
        return ST_REG_EEXISTS;
    }
    if (expected > 0 && *cur != expected) {
        set_err(s, "%s/%s: version %lld, expected %lld", tenant, key, (long long)*cur,
                (long long)expected);
        return ST_REG_ECONFLICT;
    }
    return ST_REG_OK;
}

static int copy_col(sqlite3_stmt *q, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    size_t n = (size_t)sqlite3_column_bytes(q, col);
    if (t == NULL) {
        dst[0] = '\0';
        return 0;
    }
    if (n >= cap)
        return -1;
    memcpy(dst, t, n);
    dst[n] = '\0';
    return 0;
}

static char *dup_col(sqlite3_stmt *q, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    if (t == NULL)
        return NULL;
    char *p = strdup((const char *)t);
    if (p == NULL)
        *oom = 1;
    return p;
}

/* Seals a secret for row (kind, tenant, id); *blob is heap (free after use). */
static int seal(struct sreg *s, const char *kind, const char *tenant, const char *id,
                const uint8_t *pt, size_t n, uint8_t **blob, size_t *blen)
{
    uint8_t aad[16 + 8 + 2 * ST_REG_ID_MAX + 2];
    int al = st_reg_aad(kind, tenant, id, aad, sizeof(aad));
    *blob = NULL;
    if (n == 0)
        return ST_REG_OK;
    if (s->base.kek == NULL) {
        set_err(s, "no key-encryption key configured");
        return ST_REG_EINVAL;
    }
    *blob = malloc(n + ST_GW_SEAL_OVERHEAD);
    if (al < 0 || *blob == NULL ||
        st_gw_seal(s->base.kek, aad, (size_t)al, pt, n, *blob, n + ST_GW_SEAL_OVERHEAD, blen) != 0) {
        free(*blob);
        *blob = NULL;
        set_err(s, "sealing failed");
        return ST_REG_ERR;
    }
    return ST_REG_OK;
}

static int unseal(struct sreg *s, const char *kind, const char *tenant, const char *id,
                  sqlite3_stmt *q, int col, uint8_t *out, size_t *out_len)
{
    uint8_t aad[16 + 8 + 2 * ST_REG_ID_MAX + 2];
    const void *b = sqlite3_column_blob(q, col);
    size_t bl = (size_t)sqlite3_column_bytes(q, col);
    *out_len = 0;
    if (b == NULL || bl == 0)
        return ST_REG_OK;
    int al = st_reg_aad(kind, tenant, id, aad, sizeof(aad));
    if (s->base.kek == NULL || al < 0 ||
        st_gw_open(s->base.kek, aad, (size_t)al, b, bl, out, ST_REG_KEY_MAX, out_len) != 0) {
        set_err(s, "%s of %s/%s fails authentication", kind, tenant, id);
        return ST_REG_ECRYPTO;
    }
    return ST_REG_OK;
}

/* ---- groups ---- */

static int group_ok(const struct st_reg_group *g)
{
    if (!st_reg_id_ok(g->tenant) || !st_reg_id_ok(g->id))
        return 0;
    if (g->auth_methods == 0 || (g->auth_methods & ~7u) != 0)
        return 0;
    if (g->auth_methods & ST_REG_AUTH_BATCH) {
        if (!st_gw_batch_field_ok(g->batch_vendor) || !st_gw_batch_field_ok(g->batch_id) ||
            st_gw_kdf_name(g->kdf) == NULL || g->bmk_len < 16 || g->bmk_len > ST_REG_KEY_MAX)
            return 0;
    }
    return 1;
}

static int sq_group_put(struct st_reg *r, struct st_reg_group *g, int64_t expected)
{
    struct sreg *s = S(r);
    uint8_t *blob = NULL;
    size_t blen = 0;
    int64_t cur;
    int batch = (g->auth_methods & ST_REG_AUTH_BATCH) != 0;
    if (!group_ok(g)) {
        set_err(s, "invalid group record");
        return ST_REG_EINVAL;
    }
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    if ((rc = check_version(s, S_GROUP_VER, g->tenant, g->id, expected, &cur)) != ST_REG_OK ||
        (batch && (rc = seal(s, "bmk", g->tenant, g->id, g->bmk, g->bmk_len, &blob, &blen)) != 0))
        return op_end(s, rc);
    sqlite3_stmt *q = stmt(s, cur ? S_GROUP_UPD : S_GROUP_INS);
    if (q == NULL) {
        free(blob);
        return op_end(s, ST_REG_ERR);
    }
    bind_text(q, 1, g->tenant);
    bind_text(q, 2, g->id);
    sqlite3_bind_int(q, 3, (int)g->auth_methods);
    bind_text(q, 4, g->trust_anchors_pem);
    bind_text(q, 5, batch ? g->batch_vendor : NULL);
    bind_text(q, 6, batch ? g->batch_id : NULL);
    if (batch) {
        sqlite3_bind_int(q, 7, g->kdf);
        sqlite3_bind_blob(q, 8, blob, (int)blen, SQLITE_STATIC);
    }
    sqlite3_bind_int(q, 9, g->allowlist ? 1 : 0);
    int src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    free(blob);
    rc = op_end(s, rc);
    if (rc == ST_REG_OK)
        g->version = cur + 1;
    return rc;
}

static int read_group(struct sreg *s, sqlite3_stmt *q, struct st_reg_group *g, int secrets)
{
    int oom = 0;
    memset(g, 0, sizeof(*g));
    if (copy_col(q, 0, g->tenant, sizeof(g->tenant)) || copy_col(q, 1, g->id, sizeof(g->id)) ||
        copy_col(q, 4, g->batch_vendor, sizeof(g->batch_vendor)) ||
        copy_col(q, 5, g->batch_id, sizeof(g->batch_id))) {
        set_err(s, "corrupt group row");
        return ST_REG_ERR;
    }
    g->auth_methods = (unsigned)sqlite3_column_int(q, 2);
    g->trust_anchors_pem = dup_col(q, 3, &oom);
    g->kdf = sqlite3_column_int(q, 6);
    g->allowlist = sqlite3_column_int(q, 8);
    g->version = sqlite3_column_int64(q, 9);
    int rc = oom ? ST_REG_ERR : ST_REG_OK;
    if (rc == ST_REG_OK && secrets)
        rc = unseal(s, "bmk", g->tenant, g->id, q, 7, g->bmk, &g->bmk_len);
    if (rc != ST_REG_OK)
        st_reg_group_clear(g);
    return rc;
}

static int group_query(struct sreg *s, enum stmt_id id, const char *a, const char *b,
                       struct st_reg_group *g)
{
    memset(g, 0, sizeof(*g));
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, a);
    bind_text(q, 2, b);
    int src = sqlite3_step(q);
    int rc = src == SQLITE_ROW    ? read_group(s, q, g, 1)
             : src == SQLITE_DONE ? ST_REG_NOTFOUND
                                  : map_rc(s, src);
    done(q);
    return rc;
}

static int sq_group_get(struct st_reg *r, const char *tenant, const char *id,
                        struct st_reg_group *g)
{
    return group_query(S(r), S_GROUP_GET, tenant, id, g);
}

static int sq_group_by_batch(struct st_reg *r, const char *vendor, const char *batch,
                             struct st_reg_group *g)
{
    return group_query(S(r), S_GROUP_BATCH, vendor, batch, g);
}

/* Conditional DELETE/UPDATE that touched no row: NOTFOUND or ECONFLICT. */
static int why_unchanged(struct sreg *s, enum stmt_id ver, const char *tenant, const char *id)
{
    int64_t cur;
    int rc = check_version(s, ver, tenant, id, ST_REG_ANY, &cur);
    if (rc != ST_REG_OK)
        return rc;
    if (cur == 0)
        return ST_REG_NOTFOUND;
    set_err(s, "%s/%s: version mismatch", tenant, id);
    return ST_REG_ECONFLICT;
}

/*
 * Deletes one versioned row (group or device): expected > 0 must match its
 * version (If-Match), else ST_REG_ECONFLICT; a missing row is ST_REG_NOTFOUND.
 */
static int delete_versioned(struct st_reg *r, enum stmt_id del, enum stmt_id ver, const char *tenant,
                            const char *id, int64_t expected)
{
    struct sreg *s = S(r);
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    sqlite3_stmt *q = stmt(s, del);
    if (q == NULL)
        return op_end(s, ST_REG_ERR);
    bind_text(q, 1, tenant);
    bind_text(q, 2, id);
    sqlite3_bind_int64(q, 3, expected > 0 ? expected : 0);
    int src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    if (rc == ST_REG_OK && sqlite3_changes(s->db) == 0)
        rc = why_unchanged(s, ver, tenant, id);
    return op_end(s, rc);
}

static int sq_group_delete(struct st_reg *r, const char *tenant, const char *id, int64_t expected)
{
    return delete_versioned(r, S_GROUP_DEL, S_GROUP_VER, tenant, id, expected);
}

/* ---- devices ---- */

static int device_ok(const struct st_reg_device *d)
{
    size_t il = strnlen(d->iccid, sizeof(d->iccid));
    size_t pl = strnlen(d->psk_identity, sizeof(d->psk_identity));
    if (!st_reg_id_ok(d->tenant) || !st_reg_id_ok(d->id) || !st_reg_id_ok(d->group))
        return 0;
    if (d->state < ST_REG_ENABLED || d->state > ST_REG_REVOKED)
        return 0;
    if (il == sizeof(d->iccid) || (il > 0 && !st_gw_iccid_digits_ok(d->iccid, il)))
        return 0;
    if (pl == sizeof(d->psk_identity) || d->psk_len > ST_REG_KEY_MAX ||
        (d->psk_len > 0 && pl == 0))
        return 0;
    /* The scenario 5 syntax <vendor>:<batch>:<ICCID> is reserved for
     * batch-derived keys: the handshake path then needs one lookup, not two. */
    struct st_gw_batch_id bid;
    if (pl > 0 && st_gw_batch_parse((const uint8_t *)d->psk_identity, pl, &bid) == ST_GW_BATCH_OK)
        return 0;
    return 1;
}

static int sq_device_put(struct st_reg *r, struct st_reg_device *d, int64_t expected)
{
    struct sreg *s = S(r);
    uint8_t *blob = NULL;
    size_t blen = 0;
    int64_t cur;
    if (!device_ok(d)) {
        set_err(s, "invalid device record");
        return ST_REG_EINVAL;
    }
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    if ((rc = check_version(s, S_DEV_VER, d->tenant, d->id, expected, &cur)) != ST_REG_OK ||
        (rc = seal(s, "psk", d->tenant, d->id, d->psk, d->psk_len, &blob, &blen)) != ST_REG_OK)
        return op_end(s, rc);
    sqlite3_stmt *q = stmt(s, cur ? S_DEV_UPD : S_DEV_INS);
    if (q == NULL) {
        free(blob);
        return op_end(s, ST_REG_ERR);
    }
    bind_text(q, 1, d->tenant);
    bind_text(q, 2, d->id);
    bind_text(q, 3, d->group);
    sqlite3_bind_int(q, 4, d->state);
    bind_text(q, 5, d->iccid);
    if (d->has_spki)
        sqlite3_bind_blob(q, 6, d->spki_sha256, 32, SQLITE_STATIC);
    bind_text(q, 7, d->cert_pem);
    bind_text(q, 8, d->psk_identity);
    if (blob)
        sqlite3_bind_blob(q, 9, blob, (int)blen, SQLITE_STATIC);
    int src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    free(blob);
    rc = op_end(s, rc);
    if (rc == ST_REG_OK)
        d->version = cur + 1;
    return rc;
}

static int read_device(struct sreg *s, sqlite3_stmt *q, struct st_reg_device *d, int secrets)
{
    int oom = 0;
    memset(d, 0, sizeof(*d));
    if (copy_col(q, 0, d->tenant, sizeof(d->tenant)) || copy_col(q, 1, d->id, sizeof(d->id)) ||
        copy_col(q, 2, d->group, sizeof(d->group)) ||
        copy_col(q, 4, d->iccid, sizeof(d->iccid)) ||
        copy_col(q, 7, d->psk_identity, sizeof(d->psk_identity))) {
        set_err(s, "corrupt device row");
        return ST_REG_ERR;
    }
    d->state = sqlite3_column_int(q, 3);
    if (sqlite3_column_bytes(q, 5) == 32) {
        memcpy(d->spki_sha256, sqlite3_column_blob(q, 5), 32);
        d->has_spki = 1;
    }
    d->cert_pem = dup_col(q, 6, &oom);
    d->version = sqlite3_column_int64(q, 9);
    int rc = oom ? ST_REG_ERR : ST_REG_OK;
    if (rc == ST_REG_OK && secrets)
        rc = unseal(s, "psk", d->tenant, d->id, q, 8, d->psk, &d->psk_len);
    if (rc != ST_REG_OK)
        st_reg_device_clear(d);
    return rc;
}

static int device_query(struct sreg *s, sqlite3_stmt *q, struct st_reg_device *d)
{
    int src = sqlite3_step(q);
    int rc = src == SQLITE_ROW    ? read_device(s, q, d, 1)
             : src == SQLITE_DONE ? ST_REG_NOTFOUND
                                  : map_rc(s, src);
    done(q);
    return rc;
}

static int sq_device_get(struct st_reg *r, const char *tenant, const char *id,
                         struct st_reg_device *d)
{
    struct sreg *s = S(r);
    memset(d, 0, sizeof(*d));
    sqlite3_stmt *q = stmt(s, S_DEV_GET);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, tenant);
    bind_text(q, 2, id);
    return device_query(s, q, d);
}

static int sq_device_by_psk_identity(struct st_reg *r, const char *identity, size_t len,
                                     struct st_reg_device *d)
{
    struct sreg *s = S(r);
    memset(d, 0, sizeof(*d));
    if (identity == NULL || len == 0 || len > ST_REG_PSK_ID_MAX || memchr(identity, 0, len))
        return ST_REG_NOTFOUND;
    sqlite3_stmt *q = stmt(s, S_DEV_PSK);
    if (q == NULL)
        return ST_REG_ERR;
    sqlite3_bind_text(q, 1, identity, (int)len, SQLITE_STATIC);
    return device_query(s, q, d);
}

static int sq_device_by_spki(struct st_reg *r, const uint8_t spki[32], struct st_reg_device *d)
{
    struct sreg *s = S(r);
    memset(d, 0, sizeof(*d));
    sqlite3_stmt *q = stmt(s, S_DEV_SPKI);
    if (q == NULL)
        return ST_REG_ERR;
    sqlite3_bind_blob(q, 1, spki, 32, SQLITE_STATIC);
    return device_query(s, q, d);
}

static int sq_device_set_state(struct st_reg *r, const char *tenant, const char *id, int state,
                               int64_t expected, int64_t *new_version)
{
    struct sreg *s = S(r);
    if (state < ST_REG_ENABLED || state > ST_REG_REVOKED)
        return ST_REG_EINVAL;
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    sqlite3_stmt *q = stmt(s, S_DEV_STATE);
    if (q == NULL)
        return op_end(s, ST_REG_ERR);
    bind_text(q, 1, tenant);
    bind_text(q, 2, id);
    sqlite3_bind_int(q, 3, state);
    sqlite3_bind_int64(q, 4, expected > 0 ? expected : 0);
    int src = sqlite3_step(q);
    int64_t v = 0;
    if (src == SQLITE_ROW) {
        v = sqlite3_column_int64(q, 0);
        src = sqlite3_step(q);
    }
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    if (rc == ST_REG_OK && v == 0)
        rc = why_unchanged(s, S_DEV_VER, tenant, id);
    rc = op_end(s, rc);
    if (rc == ST_REG_OK && new_version)
        *new_version = v;
    return rc;
}

static int sq_device_delete(struct st_reg *r, const char *tenant, const char *id, int64_t expected)
{
    return delete_versioned(r, S_DEV_DEL, S_DEV_VER, tenant, id, expected);
}

/* Listings never open sealed secrets (psk_len is 0 in the records passed to cb). */
static int sq_device_list(struct st_reg *r, const char *tenant, int64_t offset, int64_t limit,
                          int (*cb)(void *arg, const struct st_reg_device *d), void *arg,
                          int64_t *total)
{
    struct sreg *s = S(r);
    int rc = ST_REG_OK;
    if (offset < 0 || limit < 0)
        return ST_REG_EINVAL;
    if (total) {
        sqlite3_stmt *q = stmt(s, S_DEV_COUNT);
        if (q == NULL)
            return ST_REG_ERR;
        bind_text(q, 1, tenant);
        int src = sqlite3_step(q);
        if (src == SQLITE_ROW)
            *total = sqlite3_column_int64(q, 0);
        else
            rc = map_rc(s, src);
        done(q);
        if (rc != ST_REG_OK)
            return rc;
    }
    sqlite3_stmt *q = stmt(s, S_DEV_LIST);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, tenant);
    sqlite3_bind_int64(q, 2, limit);
    sqlite3_bind_int64(q, 3, offset);
    int src;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        struct st_reg_device d;
        if ((rc = read_device(s, q, &d, 0)) != ST_REG_OK)
            break;
        int stop = cb(arg, &d);
        st_reg_device_clear(&d);
        if (stop)
            break;
    }
    if (rc == ST_REG_OK && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = map_rc(s, src);
    done(q);
    return rc;
}

/* ---- allow-list ---- */

static int allow_change(struct st_reg *r, enum stmt_id id, const char *tenant, const char *group,
                        const char *iccid)
{
    struct sreg *s = S(r);
    if (iccid == NULL || !st_gw_iccid_digits_ok(iccid, strnlen(iccid, 21)))
        return ST_REG_EINVAL;
    int rc = op_begin(s);
    if (rc != ST_REG_OK)
        return rc;
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return op_end(s, ST_REG_ERR);
    bind_text(q, 1, tenant);
    bind_text(q, 2, group);
    bind_text(q, 3, iccid);
    int src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? ST_REG_OK : map_rc(s, src);
    done(q);
    return op_end(s, rc);
}

static int sq_allow_add(struct st_reg *r, const char *t, const char *g, const char *i)
{
    return allow_change(r, S_ALLOW_ADD, t, g, i);
}

static int sq_allow_remove(struct st_reg *r, const char *t, const char *g, const char *i)
{
    return allow_change(r, S_ALLOW_DEL, t, g, i);
}

static int sq_allow_has(struct st_reg *r, const char *t, const char *g, const char *i)
{
    return exists3(S(r), S_ALLOW_HAS, t, g, i);
}

/* ---- listings of the REST API ---- */

/* count(*) of a listing with one or two text parameters. */
static int count_rows(struct sreg *s, enum stmt_id id, const char *a, const char *b,
                      int64_t *total)
{
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, a);
    if (b)
        bind_text(q, 2, b);
    int src = sqlite3_step(q);
    int rc = ST_REG_OK;
    if (src == SQLITE_ROW)
        *total = sqlite3_column_int64(q, 0);
    else
        rc = map_rc(s, src);
    done(q);
    return rc;
}

/* The row callback of a listing: exactly one member set. */
struct list_cb {
    int (*group)(void *arg, const struct st_reg_group *g);
    int (*device)(void *arg, const struct st_reg_device *d);
    int (*iccid)(void *arg, const char *iccid);
    void *arg;
};

/* Runs a page query (?1 tenant, ?2 limit, ?3 offset, ?4 group) and calls cb per row. */
static int list_rows(struct sreg *s, enum stmt_id id, const char *tenant, const char *group,
                     int64_t offset, int64_t limit, const struct list_cb *cb)
{
    int rc = ST_REG_OK;
    sqlite3_stmt *q = stmt(s, id);
    if (q == NULL)
        return ST_REG_ERR;
    bind_text(q, 1, tenant);
    sqlite3_bind_int64(q, 2, limit);
    sqlite3_bind_int64(q, 3, offset);
    if (group)
        bind_text(q, 4, group);
    int src;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        int stop;
        if (cb->group) {
            struct st_reg_group g;
            if ((rc = read_group(s, q, &g, 0)) != ST_REG_OK)
                break;
            stop = cb->group(cb->arg, &g);
            st_reg_group_clear(&g);
        } else if (cb->device) {
            struct st_reg_device d;
            if ((rc = read_device(s, q, &d, 0)) != ST_REG_OK)
                break;
            stop = cb->device(cb->arg, &d);
            st_reg_device_clear(&d);
        } else {
            char iccid[21];
            if (copy_col(q, 0, iccid, sizeof(iccid)) != 0) {
                set_err(s, "corrupt allow-list row");
                rc = ST_REG_ERR;
                break;
            }
            stop = cb->iccid(cb->arg, iccid);
        }
        if (stop)
            break;
    }
    if (rc == ST_REG_OK && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = map_rc(s, src);
    done(q);
    return rc;
}

static int sq_group_list(struct st_reg *r, const char *tenant, int64_t offset, int64_t limit,
                         int (*cb)(void *arg, const struct st_reg_group *g), void *arg,
                         int64_t *total)
{
    struct sreg *s = S(r);
    if (offset < 0 || limit < 0)
        return ST_REG_EINVAL;
    struct list_cb lc = {.group = cb, .arg = arg};
    int rc = total ? count_rows(s, S_GROUP_COUNT, tenant, NULL, total) : ST_REG_OK;
    return rc != ST_REG_OK ? rc : list_rows(s, S_GROUP_LIST, tenant, NULL, offset, limit, &lc);
}

static int sq_device_list_group(struct st_reg *r, const char *tenant, const char *group,
                                int64_t offset, int64_t limit,
                                int (*cb)(void *arg, const struct st_reg_device *d), void *arg,
                                int64_t *total)
{
    struct sreg *s = S(r);
    if (offset < 0 || limit < 0 || group == NULL)
        return ST_REG_EINVAL;
    struct list_cb lc = {.device = cb, .arg = arg};
    int rc = total ? count_rows(s, S_DEV_COUNT_GRP, tenant, group, total) : ST_REG_OK;
    return rc != ST_REG_OK ? rc : list_rows(s, S_DEV_LIST_GRP, tenant, group, offset, limit, &lc);
}

static int sq_allow_list(struct st_reg *r, const char *tenant, const char *group, int64_t offset,
                         int64_t limit, int (*cb)(void *arg, const char *iccid), void *arg,
                         int64_t *total)
{
    struct sreg *s = S(r);
    if (offset < 0 || limit < 0 || group == NULL)
        return ST_REG_EINVAL;
    struct list_cb lc = {.iccid = cb, .arg = arg};
    int rc = total ? count_rows(s, S_ALLOW_COUNT, tenant, group, total) : ST_REG_OK;
    return rc != ST_REG_OK ? rc : list_rows(s, S_ALLOW_LIST, tenant, group, offset, limit, &lc);
}

static const struct st_reg_ops k_sqlite_ops = {
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .generation = sq_generation,
    .tenant_put = sq_tenant_put,
    .tenant_exists = sq_tenant_exists,
    .group_put = sq_group_put,
    .group_get = sq_group_get,
    .group_by_batch = sq_group_by_batch,
    .group_delete = sq_group_delete,
    .device_put = sq_device_put,
    .device_get = sq_device_get,
    .device_by_psk_identity = sq_device_by_psk_identity,
    .device_by_spki = sq_device_by_spki,
    .device_set_state = sq_device_set_state,
    .device_delete = sq_device_delete,
    .device_list = sq_device_list,
    .allow_add = sq_allow_add,
    .allow_remove = sq_allow_remove,
    .allow_has = sq_allow_has,
    .group_list = sq_group_list,
    .device_list_group = sq_device_list_group,
    .allow_list = sq_allow_list,
};

int st_reg_open_sqlite(const char *path, struct st_gw_kek *kek, int busy_ms, struct st_reg **out)
{
    struct sreg *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL)
        return ST_REG_ERR;
    s->base.ops = &k_sqlite_ops;
    s->base.kek = kek;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        sqlite3_close(s->db);
        free(s);
        return ST_REG_ERR;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, busy_ms > 0 ? busy_ms : 5000);
    int rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                     "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;");
    if (rc == ST_REG_OK) {
        /* Schema creation races between two first openers: serialise it. */
        rc = exec(s, "BEGIN IMMEDIATE");
        if (rc == ST_REG_OK) {
            rc = exec(s, k_schema);
            rc = rc == ST_REG_OK ? exec(s, "COMMIT") : (exec(s, "ROLLBACK"), rc);
        }
    }
    if (rc != ST_REG_OK) {
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return ST_REG_OK;
}
