/*
 * The provider's card session: one transport, one st_sim with a pthread lock,
 * one IoT SAFE client on a logical channel, opened on first use and re-opened
 * after a transport failure (card removed, link down).
 *
 * APDU economy (issue 4 item 7): the client runs with ST_IOTSAFE_NO_PRECLOSE
 * and ST_IOTSAFE_KEEP_SESSION (the card closes an open session on re-open,
 * docs/card-crypto.md "Sessions"), public keys and certificate files are
 * cached (they do not change), and the logical channel stays open for the
 * life of the provider. The trace hook counts APDUs and bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "prov.h"
#include "simtrust/at.h"
#include "simtrust/pcsc.h"
#include "simtrust/pthread_lock.h"
#include "simtrust/tcp.h"

#define ST_CACHE_MAX 16

struct cache_entry {
    enum st_iotsafe_kind kind;
    struct st_iotsafe_ref ref;
    struct st_iotsafe_pubkey pk; /* public keys */
    uint8_t *data;               /* files */
    size_t len;
};

struct st_prov_card {
    pthread_mutex_t mu; /* recursive: whole operations (connect + commands) */
    char spec[256];
    bool connected;
    struct st_transport tr;
    struct st_sim sim;
    struct st_pthread_lock lock;
    struct st_iotsafe ios;
    struct st_iotsafe_ref eph, peer;
    unsigned eph_gen;      /* generation of the key pair in the ephemeral slot */
    struct st_prov_stats stats;
    struct cache_entry cache[ST_CACHE_MAX];
    size_t ncache;
};

static void trace_count(void *arg, enum st_trace_dir dir, const uint8_t *buf, size_t len)
{
    struct st_prov_card *c = arg;
    (void)buf;
    if (dir == ST_TRACE_COMMAND) {
        c->stats.apdus++;
        c->stats.bytes_out += len;
    } else {
        c->stats.bytes_in += len;
    }
}

struct st_prov_card *st_prov_card_new(const char *spec, const char *eph_label,
                                      const char *peer_label)
{
    struct st_prov_card *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (spec != NULL)
        snprintf(c->spec, sizeof(c->spec), "%s", spec);
    if (eph_label == NULL)
        eph_label = "ecdhe";
    if (peer_label == NULL)
        peer_label = "peer";
    if (st_iotsafe_ref_label(&c->eph, eph_label, strlen(eph_label)) != ST_OK
        || st_iotsafe_ref_label(&c->peer, peer_label, strlen(peer_label)) != ST_OK) {
        st_prov_card_free(c);
        return NULL;
    }
    return c;
}

static void disconnect(struct st_prov_card *c)
{
    if (!c->connected)
        return;
    st_sim_drop_pthread_lock(&c->sim, &c->lock);
    if (c->tr.ops != NULL && c->tr.ops->close != NULL)
        c->tr.ops->close(c->tr.ctx);
    memset(&c->tr, 0, sizeof(c->tr));
    c->connected = false;
    c->eph_gen++; /* volatile slots are lost with the session */
}

void st_prov_card_free(struct st_prov_card *c)
{
    if (c == NULL)
        return;
    if (c->connected)
        (void)st_iotsafe_close(&c->ios); /* give the logical channel back (D6: 3 channels) */
    disconnect(c);
    for (size_t i = 0; i < c->ncache; i++)
        free(c->cache[i].data);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *st_prov_card_spec(const struct st_prov_card *c)
{
    return c->spec;
}

void st_prov_card_stats(struct st_prov_card *c, struct st_prov_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

void st_prov_card_reset_stats(struct st_prov_card *c)
{
    pthread_mutex_lock(&c->mu);
    memset(&c->stats, 0, sizeof(c->stats));
    pthread_mutex_unlock(&c->mu);
}

unsigned st_prov_card_last_sw(struct st_prov_card *c)
{
    return c->connected ? st_sim_last_sw(&c->sim) : 0;
}

static int open_transport(struct st_prov_card *c)
{
    char err[200] = "";
    const char *s = c->spec;
    if (strncmp(s, "tcp:", 4) == 0)
        return st_tcp_open(&c->tr, s + 4, 0, err, sizeof(err));
    if (strncmp(s, "pcsc:", 5) == 0 || strcmp(s, "pcsc") == 0)
        return st_pcsc_open(&c->tr, s[4] == ':' ? s + 5 : NULL, err, sizeof(err));
    if (strncmp(s, "at:", 3) == 0)
        return st_at_open(&c->tr, s + 3, NULL, err, sizeof(err));
    return ST_E_ARG;
}

/* Called with c->mu held. */
static int ensure(struct st_prov_card *c)
{
    if (c->connected)
        return ST_OK;
    if (c->spec[0] == '\0')
        return ST_E_STATE;
    int rc = open_transport(c);
    if (rc != ST_OK)
        return rc;
    st_sim_init(&c->sim, &c->tr);
    st_sim_set_trace(&c->sim, trace_count, c);
    if (st_sim_use_pthread_lock(&c->sim, &c->lock) != ST_OK) {
        c->tr.ops->close(c->tr.ctx);
        return ST_E_IO;
    }
    struct st_iotsafe_config cfg;
    st_iotsafe_config_default(&cfg);
    cfg.flags |= ST_IOTSAFE_NO_PRECLOSE | ST_IOTSAFE_KEEP_SESSION;
    c->connected = true;
    st_iotsafe_init(&c->ios, &c->sim, &cfg);
    rc = st_iotsafe_open(&c->ios);
    if (rc == ST_E_CARD_CHANNEL) {
        /* Every logical channel taken (a client that died with its channel open): the
         * applet on the basic channel instead. */
        cfg.flags |= ST_IOTSAFE_BASIC_CHANNEL;
        st_iotsafe_init(&c->ios, &c->sim, &cfg);
        rc = st_iotsafe_open(&c->ios);
    }
    if (rc != ST_OK) {
        disconnect(c);
        return rc;
    }
    c->stats.opens++;
    return ST_OK;
}

/* After a failed command: a transport error drops the session (re-opened next time). */
static int done(struct st_prov_card *c, int rc)
{
    if (rc <= -200 && rc > -300)
        disconnect(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static bool ref_eq(const struct st_iotsafe_ref *a, const struct st_iotsafe_ref *b)
{
    return a->by_label == b->by_label && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static struct cache_entry *cache_find(struct st_prov_card *c, enum st_iotsafe_kind kind,
                                      const struct st_iotsafe_ref *ref)
{
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i].kind == kind && ref_eq(&c->cache[i].ref, ref))
            return &c->cache[i];
    return NULL;
}

static struct cache_entry *cache_add(struct st_prov_card *c, enum st_iotsafe_kind kind,
                                     const struct st_iotsafe_ref *ref)
{
    if (c->ncache == ST_CACHE_MAX)
        return NULL; /* not cached: read again next time */
    struct cache_entry *e = &c->cache[c->ncache++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->ref = *ref;
    return e;
}

int st_prov_card_read_pub(struct st_prov_card *c, const struct st_iotsafe_ref *ref,
                          struct st_iotsafe_pubkey *pk)
{
    pthread_mutex_lock(&c->mu);
    struct cache_entry *e = cache_find(c, ST_IOTSAFE_PUBLIC_KEY, ref);
    if (e != NULL) {
        *pk = e->pk;
        pthread_mutex_unlock(&c->mu);
        return ST_OK;
    }
    int rc = ensure(c);
    if (rc == ST_OK)
        rc = st_iotsafe_read_public_key(&c->ios, ref, pk);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.reads++;
        e = cache_add(c, ST_IOTSAFE_PUBLIC_KEY, ref);
        if (e != NULL)
            e->pk = *pk;
    }
    return done(c, rc);
}

/* READ FILE in 255-byte chunks (Le FF: the card's default chunk) until a short one: the size needs no GET DATA (E3). */
static int read_whole(struct st_prov_card *c, const struct st_iotsafe_ref *ref, uint8_t *buf,
                      size_t *len)
{
    size_t off = 0;
    for (;;) {
        size_t n = *len - off < 255 ? *len - off : 255;
        if (n == 0)
            return ST_E_BUFFER;
        int rc = st_iotsafe_read_file_at(&c->ios, ref, off, buf + off, &n);
        if (rc == ST_E_CARD_FILE_RANGE && off > 0)
            break;
        if (rc != ST_OK)
            return rc;
        off += n;
        if (n < 255)
            break;
    }
    *len = off;
    return ST_OK;
}

int st_prov_card_read_file(struct st_prov_card *c, const struct st_iotsafe_ref *ref, uint8_t **der,
                           size_t *len)
{
    pthread_mutex_lock(&c->mu);
    struct cache_entry *e = cache_find(c, ST_IOTSAFE_FILE, ref);
    if (e == NULL) {
        int rc = ensure(c);
        uint8_t *buf = NULL;
        size_t n = 4096;
        if (rc == ST_OK) {
            buf = malloc(n);
            rc = buf == NULL ? ST_E_BUFFER : read_whole(c, ref, buf, &n);
        }
        if (rc != ST_OK) {
            free(buf);
            return done(c, rc);
        }
        c->stats.ops++;
        c->stats.reads++;
        e = cache_add(c, ST_IOTSAFE_FILE, ref);
        if (e == NULL) {
            *der = buf;
            *len = n;
            return done(c, ST_OK);
        }
        e->data = buf;
        e->len = n;
    }
    *der = malloc(e->len ? e->len : 1);
    if (*der == NULL)
        return done(c, ST_E_BUFFER);
    memcpy(*der, e->data, e->len);
    *len = e->len;
    return done(c, ST_OK);
}

int st_prov_card_sign(struct st_prov_card *c, const struct st_iotsafe_ref *key,
                      const uint8_t *digest, size_t dlen, uint8_t *raw, size_t *raw_len)
{
    pthread_mutex_lock(&c->mu);
    int rc = ensure(c);
    if (rc == ST_OK)
        rc = st_iotsafe_sign_digest(&c->ios, key, digest, dlen, raw, raw_len);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.signs++;
    }
    return done(c, rc);
}

int st_prov_card_keygen(struct st_prov_card *c, struct st_iotsafe_ref *priv,
                        struct st_iotsafe_pubkey *pk, unsigned *gen)
{
    pthread_mutex_lock(&c->mu);
    int rc = ensure(c);
    struct st_iotsafe_keygen kg;
    if (rc == ST_OK)
        rc = st_iotsafe_generate_key(&c->ios, &c->eph, &kg);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.keygens++;
        if (++c->eph_gen == 0)
            c->eph_gen = 1;
        *gen = c->eph_gen;
        *priv = kg.priv;
        *pk = kg.key;
    }
    return done(c, rc);
}

int st_prov_card_dh(struct st_prov_card *c, const struct st_iotsafe_ref *priv, unsigned gen,
                    const uint8_t *point, size_t point_len, uint8_t *secret, size_t *len)
{
    struct st_iotsafe_pubkey pk;
    int rc = st_iotsafe_pubkey_ec(&pk, point, point_len);
    if (rc != ST_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (gen != 0 && (gen != c->eph_gen || !c->connected))
        return done(c, ST_E_STATE); /* another keygen (or a card reset) replaced the key */
    rc = ensure(c);
    if (rc == ST_OK)
        rc = st_iotsafe_put_public_key(&c->ios, &c->peer, &pk);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.putkeys++;
        rc = st_iotsafe_compute_dh(&c->ios, priv, &c->peer, secret, len);
    }
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.dhs++;
    }
    return done(c, rc);
}

int st_prov_card_prf(struct st_prov_card *c, const struct st_iotsafe_prf_params *p, uint8_t *out,
                     size_t out_len)
{
    pthread_mutex_lock(&c->mu);
    int rc = ensure(c);
    if (rc == ST_OK)
        rc = st_iotsafe_prf(&c->ios, p, out, out_len);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.prfs++;
    }
    return done(c, rc);
}

int st_prov_card_hkdf_extract_psk(struct st_prov_card *c, const struct st_iotsafe_ref *psk,
                                  uint8_t *prk, size_t *prk_len)
{
    struct st_iotsafe_key_input ikm = {.ref = psk, .bytes = NULL, .len = 0};
    pthread_mutex_lock(&c->mu);
    int rc = ensure(c);
    if (rc == ST_OK)
        rc = st_iotsafe_hkdf_extract(&c->ios, 0 /* SHA-256 */, &ikm, NULL, 0, prk, prk_len);
    if (rc == ST_OK) {
        c->stats.ops++;
        c->stats.hkdfs++;
    }
    return done(c, rc);
}
