/* PROXY protocol v2 writer and parser (IoT.04 N1/N2 towards the server application). */
#include "proxy_v2.h"

#include <string.h>

static const uint8_t k_sig[ST_PP2_SIG_LEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                              0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

struct st_pp2_bytes st_pp2_str(const char *s)
{
    struct st_pp2_bytes b = {(const uint8_t *)s, s ? strlen(s) : 0};
    return b;
}

/* Bounded output cursor: writes stop at cap but the size keeps counting. */
struct wbuf {
    uint8_t *p;
    size_t cap, n;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
    if (w->n <= w->cap && n <= w->cap - w->n && n > 0)
        memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void put8(struct wbuf *w, uint8_t v) { put(w, &v, 1); }

static void put16(struct wbuf *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 4);
}

static void patch16(struct wbuf *w, size_t at, size_t v)
{
    if (at + 2 <= w->cap) {
        w->p[at] = (uint8_t)(v >> 8);
        w->p[at + 1] = (uint8_t)v;
    }
}

static int put_tlv(struct wbuf *w, uint8_t type, struct st_pp2_bytes v)
{
    if (v.p == NULL)
        return 0;
    if (v.n > 0xFFFF)
        return -1;
    put8(w, type);
    put16(w, (uint16_t)v.n);
    put(w, v.p, v.n);
    return 0;
}

int st_pp2_write(const struct st_pp2_info *in, uint8_t *buf, size_t cap, size_t *out_len)
{
    struct wbuf w = {buf, buf ? cap : 0, 0};
    uint8_t fam;

    if (in == NULL || out_len == NULL)
        return ST_PP2_EINVAL;
    if (in->local) {
        fam = 0x00;
    } else {
        if ((in->family != ST_PP2_INET && in->family != ST_PP2_INET6) ||
            (in->transport != ST_PP2_STREAM && in->transport != ST_PP2_DGRAM))
            return ST_PP2_EINVAL;
        fam = (uint8_t)(in->family << 4 | in->transport);
    }
    put(&w, k_sig, sizeof(k_sig));
    put8(&w, in->local ? 0x20 : 0x21);
    put8(&w, fam);
    put16(&w, 0); /* patched below */
    if (!in->local) {
        size_t alen = in->family == ST_PP2_INET ? 4 : 16;
        put(&w, in->src_addr, alen);
        put(&w, in->dst_addr, alen);
        put16(&w, in->src_port);
        put16(&w, in->dst_port);
    }
    if (put_tlv(&w, ST_PP2_TYPE_AUTHORITY, in->authority) != 0 ||
        put_tlv(&w, ST_PP2_TYPE_UNIQUE_ID, in->unique_id) != 0)
        return ST_PP2_EINVAL;
    if (in->unique_id.p != NULL && in->unique_id.n > 128)
        return ST_PP2_EINVAL; /* spec: at most 128 bytes */
    if (in->ssl) {
        put8(&w, ST_PP2_TYPE_SSL);
        size_t len_at = w.n;
        put16(&w, 0);
        size_t start = w.n;
        put8(&w, in->ssl_client);
        put32(&w, in->ssl_verify);
        if (put_tlv(&w, ST_PP2_SUBTYPE_SSL_VERSION, in->ssl_version) != 0 ||
            put_tlv(&w, ST_PP2_SUBTYPE_SSL_CN, in->ssl_cn) != 0 ||
            put_tlv(&w, ST_PP2_SUBTYPE_SSL_CIPHER, in->ssl_cipher) != 0 ||
            put_tlv(&w, ST_PP2_SUBTYPE_SSL_SIG_ALG, in->ssl_sig_alg) != 0 ||
            put_tlv(&w, ST_PP2_SUBTYPE_SSL_KEY_ALG, in->ssl_key_alg) != 0)
            return ST_PP2_EINVAL;
        if (w.n - start > 0xFFFF)
            return ST_PP2_EINVAL;
        patch16(&w, len_at, w.n - start);
    }
    if (put_tlv(&w, ST_PP2_TYPE_DEVICE_ID, in->device_id) != 0 ||
        put_tlv(&w, ST_PP2_TYPE_GROUP, in->group) != 0 ||
        put_tlv(&w, ST_PP2_TYPE_AUTH_METHOD, in->auth_method) != 0 ||
        put_tlv(&w, ST_PP2_TYPE_ICCID, in->iccid) != 0 ||
        put_tlv(&w, ST_PP2_TYPE_TENANT, in->tenant) != 0)
        return ST_PP2_EINVAL;
    if (w.n - ST_PP2_HDR_LEN > 0xFFFF)
        return ST_PP2_EINVAL;
    *out_len = w.n;
    if (w.n > w.cap)
        return ST_PP2_ENOSPC;
    patch16(&w, 14, w.n - ST_PP2_HDR_LEN);
    return ST_PP2_OK;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Stores one TLV value; a second occurrence of the same type is malformed. */
static int take(struct st_pp2_bytes *dst, const uint8_t *v, size_t n)
{
    if (dst->p != NULL)
        return -1;
    dst->p = v;
    dst->n = n;
    return 0;
}

static int parse_ssl(const uint8_t *p, size_t n, struct st_pp2_info *info)
{
    if (info->ssl || n < 5)
        return -1;
    info->ssl = 1;
    info->ssl_client = p[0];
    info->ssl_verify = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    size_t off = 5;
    while (off < n) {
        if (n - off < 3)
            return -1;
        uint8_t t = p[off];
        size_t l = get16(p + off + 1);
        off += 3;
        if (l > n - off)
            return -1;
        const uint8_t *v = p + off;
        int rc = 0;
        switch (t) {
        case ST_PP2_SUBTYPE_SSL_VERSION: rc = take(&info->ssl_version, v, l); break;
        case ST_PP2_SUBTYPE_SSL_CN: rc = take(&info->ssl_cn, v, l); break;
        case ST_PP2_SUBTYPE_SSL_CIPHER: rc = take(&info->ssl_cipher, v, l); break;
        case ST_PP2_SUBTYPE_SSL_SIG_ALG: rc = take(&info->ssl_sig_alg, v, l); break;
        case ST_PP2_SUBTYPE_SSL_KEY_ALG: rc = take(&info->ssl_key_alg, v, l); break;
        default: break;
        }
        if (rc != 0)
            return -1;
        off += l;
    }
    return 0;
}

int st_pp2_parse(const uint8_t *buf, size_t len, struct st_pp2_info *info, size_t *consumed)
{
    memset(info, 0, sizeof(*info));
    *consumed = 0;
    if (buf == NULL)
        return len ? ST_PP2_EINVAL : ST_PP2_NEED_MORE;
    size_t sl = len < ST_PP2_SIG_LEN ? len : ST_PP2_SIG_LEN;
    if (memcmp(buf, k_sig, sl) != 0)
        return ST_PP2_ESIG;
    if (len < ST_PP2_HDR_LEN)
        return ST_PP2_NEED_MORE;
    uint8_t vc = buf[12], fam = buf[13];
    size_t body = get16(buf + 14);
    if ((vc >> 4) != 2 || ((vc & 0x0F) != 0 && (vc & 0x0F) != 1))
        return ST_PP2_EVERSION;
    if (len - ST_PP2_HDR_LEN < body)
        return ST_PP2_NEED_MORE;
    const uint8_t *p = buf + ST_PP2_HDR_LEN;
    size_t off = 0;
    info->local = (vc & 0x0F) == 0;
    int af = fam >> 4, tr = fam & 0x0F;
    if (!info->local) {
        size_t alen;
        if (af == ST_PP2_INET)
            alen = 4;
        else if (af == ST_PP2_INET6)
            alen = 16;
        else
            return ST_PP2_EFAMILY;
        if (tr != ST_PP2_STREAM && tr != ST_PP2_DGRAM)
            return ST_PP2_EFAMILY;
        if (body < 2 * alen + 4)
            return ST_PP2_EFAMILY;
        info->family = af;
        info->transport = tr;
        memcpy(info->src_addr, p, alen);
        memcpy(info->dst_addr, p + alen, alen);
        info->src_port = get16(p + 2 * alen);
        info->dst_port = get16(p + 2 * alen + 2);
        off = 2 * alen + 4;
    } else {
        /* LOCAL: the receiver must ignore the address block; we only write UNSPEC. */
        if (fam != 0x00)
            return ST_PP2_EFAMILY;
    }
    while (off < body) {
        if (body - off < 3)
            return ST_PP2_ETLV;
        uint8_t t = p[off];
        size_t l = get16(p + off + 1);
        off += 3;
        if (l > body - off)
            return ST_PP2_ETLV;
        const uint8_t *v = p + off;
        int rc = 0;
        switch (t) {
        case ST_PP2_TYPE_AUTHORITY: rc = take(&info->authority, v, l); break;
        case ST_PP2_TYPE_UNIQUE_ID: rc = l > 128 ? -1 : take(&info->unique_id, v, l); break;
        case ST_PP2_TYPE_SSL: rc = parse_ssl(v, l, info); break;
        case ST_PP2_TYPE_DEVICE_ID: rc = take(&info->device_id, v, l); break;
        case ST_PP2_TYPE_GROUP: rc = take(&info->group, v, l); break;
        case ST_PP2_TYPE_AUTH_METHOD: rc = take(&info->auth_method, v, l); break;
        case ST_PP2_TYPE_ICCID: rc = take(&info->iccid, v, l); break;
        case ST_PP2_TYPE_TENANT: rc = take(&info->tenant, v, l); break;
        default: break; /* ALPN, CRC32C, NOOP, NETNS, others: skipped */
        }
        if (rc != 0)
            return ST_PP2_ETLV;
        off += l;
    }
    *consumed = ST_PP2_HDR_LEN + body;
    return ST_PP2_OK;
}
