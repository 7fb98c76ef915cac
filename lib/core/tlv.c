/*
 * TLV cursor and writer (see simtrust/tlv.h).
 *
 * Grammar read by st_tlv_next(), one TLV:
 *   tag(1) length value(length)
 *   length = 00..7F | 81 xx | 82 xx xx          (ST_TLV_BER)
 *          = xx                                  (ST_TLV_LEN1)
 *          = xx xx                               (ST_TLV_LEN2)
 * Limits: 1-byte tags only (IoT SAFE uses no multi-byte tag), lengths up to
 * 65535, as no IoT SAFE object is larger.
 */
#include <string.h>

#include "simtrust/tlv.h"

void st_tlv_cursor_init(struct st_tlv_cursor *c, const uint8_t *buf, size_t len)
{
    c->p = buf;
    c->end = buf != NULL ? buf + len : buf;
}

bool st_tlv_cursor_done(const struct st_tlv_cursor *c)
{
    return c->p == c->end;
}

size_t st_tlv_cursor_left(const struct st_tlv_cursor *c)
{
    return (size_t)(c->end - c->p);
}

int st_tlv_next(struct st_tlv_cursor *c, unsigned form, struct st_tlv_item *item)
{
    const uint8_t *p = c->p;
    size_t left = (size_t)(c->end - p);
    size_t len, hdr;

    if (left == 0)
        return ST_E_NOT_FOUND;
    if (left < 2)
        return ST_E_PARSE; /* a tag without a length */
    switch (form) {
    case ST_TLV_LEN1:
        len = p[1];
        hdr = 2;
        break;
    case ST_TLV_LEN2:
        if (left < 3)
            return ST_E_PARSE;
        len = (size_t)p[1] << 8 | p[2];
        hdr = 3;
        break;
    case ST_TLV_BER:
        if (p[1] < 0x80) {
            len = p[1];
            hdr = 2;
        } else if (p[1] == 0x81) {
            if (left < 3)
                return ST_E_PARSE;
            len = p[2];
            hdr = 3;
        } else if (p[1] == 0x82) {
            if (left < 4)
                return ST_E_PARSE;
            len = (size_t)p[2] << 8 | p[3];
            hdr = 4;
        } else {
            return ST_E_PARSE; /* 80 (indefinite) and 83.. are not used here */
        }
        break;
    default:
        return ST_E_ARG;
    }
    if (len > left - hdr)
        return ST_E_PARSE;
    item->tag = p[0];
    item->value = p + hdr;
    item->len = len;
    item->header = hdr;
    c->p = p + hdr + len;
    return ST_OK;
}

int st_tlv_find_tag(const uint8_t *buf, size_t len, uint8_t tag, struct st_tlv_item *item)
{
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    int rc;
    st_tlv_cursor_init(&c, buf, len);
    while ((rc = st_tlv_next(&c, ST_TLV_BER, &t)) == ST_OK) {
        if (t.tag == tag) {
            *item = t;
            return ST_OK;
        }
    }
    return rc;
}

int st_tlv_u8(const struct st_tlv_item *item, uint8_t *v)
{
    if (item->len != 1)
        return ST_E_PARSE;
    *v = item->value[0];
    return ST_OK;
}

int st_tlv_u16(const struct st_tlv_item *item, uint16_t *v)
{
    if (item->len == 1) {
        *v = item->value[0];
        return ST_OK;
    }
    if (item->len != 2)
        return ST_E_PARSE;
    *v = (uint16_t)(item->value[0] << 8 | item->value[1]);
    return ST_OK;
}

void st_tlv_writer_init(struct st_tlv_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf != NULL ? cap : 0;
    w->len = 0;
    w->overflow = false;
}

int st_tlv_writer_status(const struct st_tlv_writer *w)
{
    return w->overflow ? ST_E_BUFFER : ST_OK;
}

void st_tlv_put_raw(struct st_tlv_writer *w, const void *p, size_t n)
{
    if (w->overflow)
        return;
    if (n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

size_t st_tlv_header_len(size_t n)
{
    return n < 0x80 ? 2 : n <= 0xFF ? 3 : 4;
}

/* Encodes tag || length into h; returns the header length, 0 if inexpressible. */
static size_t header(uint8_t h[4], uint8_t tag, size_t n, unsigned form)
{
    h[0] = tag;
    if (form == ST_TLV_LEN1 && n <= 0xFF) {
        h[1] = (uint8_t)n;
        return 2;
    }
    if (form == ST_TLV_LEN2 && n <= 0xFFFF) {
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        return 3;
    }
    if (form != ST_TLV_BER || n > 0xFFFF)
        return 0;
    size_t hl = st_tlv_header_len(n);
    if (hl == 2) {
        h[1] = (uint8_t)n;
    } else if (hl == 3) {
        h[1] = 0x81;
        h[2] = (uint8_t)n;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
    }
    return hl;
}

void st_tlv_put_header(struct st_tlv_writer *w, uint8_t tag, size_t n, unsigned form)
{
    uint8_t h[4];
    size_t hl = header(h, tag, n, form);
    if (hl == 0) {
        w->overflow = true;
        return;
    }
    st_tlv_put_raw(w, h, hl);
}

void st_tlv_put_form(struct st_tlv_writer *w, uint8_t tag, const void *v, size_t n, unsigned form)
{
    uint8_t h[4];
    size_t hl = header(h, tag, n, form);
    if (hl == 0) {
        w->overflow = true;
        return;
    }
    if (w->overflow || hl + n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    st_tlv_put_raw(w, h, hl);
    st_tlv_put_raw(w, v, n);
}

void st_tlv_put(struct st_tlv_writer *w, uint8_t tag, const void *v, size_t n)
{
    st_tlv_put_form(w, tag, v, n, ST_TLV_BER);
}

void st_tlv_put_u8(struct st_tlv_writer *w, uint8_t tag, uint8_t v)
{
    st_tlv_put_form(w, tag, &v, 1, ST_TLV_BER);
}

void st_tlv_put_u16(struct st_tlv_writer *w, uint8_t tag, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    st_tlv_put_form(w, tag, b, 2, ST_TLV_BER);
}
