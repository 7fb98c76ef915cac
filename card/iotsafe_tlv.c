/* Tolerant TLV splitting: see iotsafe_tlv.h. */
#include "iotsafe_tlv.h"

#include <stdbool.h>

/* Backtracking is bounded so that crafted input cannot make it explode. */
#define SPLIT_BUDGET 4096

struct split {
    const uint8_t *end;
    const struct st_tlv_rule *rules;
    size_t nrules;
    struct st_tlv *out;
    unsigned budget;
};

static const struct st_tlv_rule *rule_of(const struct split *s, uint8_t tag)
{
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].tag == tag)
            return &s->rules[i];
    return NULL;
}

static bool seen_before(const struct split *s, size_t n, uint8_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (s->out[i].tag == tag)
            return true;
    return false;
}

/* Tries to split [p, end) given that out[0..n) are already parsed. */
static bool split_from(struct split *s, const uint8_t *p, size_t n, size_t *total)
{
    if (p == s->end) {
        *total = n;
        return true;
    }
    if (n == ST_TLV_MAX || s->budget == 0)
        return false;
    s->budget--;

    const struct st_tlv_rule *r = rule_of(s, p[0]);
    if (r == NULL || (!(r->flags & ST_TLV_REPEAT) && seen_before(s, n, p[0])))
        return false;
    size_t left = (size_t)(s->end - p);
    if (left < 2)
        return false;
    uint8_t l0 = p[1];

    /* Candidate readings: {header length, value length}, in preference order. */
    size_t hdr[3], vlen[3], k = 0;
    if ((r->flags & ST_TLV_2BYTE) && l0 <= 0x01 && left >= 3) {
        hdr[k] = 3;
        vlen[k++] = ((size_t)l0 << 8) | p[2];
    }
    if ((r->flags & ST_TLV_BER) && l0 == 0x81 && left >= 3) {
        hdr[k] = 3;
        vlen[k++] = p[2];
    }
    if ((r->flags & ST_TLV_BER) && l0 == 0x82 && left >= 4) {
        hdr[k] = 4;
        vlen[k++] = ((size_t)p[2] << 8) | p[3];
    }
    hdr[k] = 2;
    vlen[k++] = l0;

    for (size_t i = 0; i < k; i++) {
        if (vlen[i] > left - hdr[i])
            continue;
        struct st_tlv *t = &s->out[n];
        t->tag = p[0];
        t->raw = p;
        t->raw_len = hdr[i] + vlen[i];
        t->v = p + hdr[i];
        t->len = vlen[i];
        if (split_from(s, p + t->raw_len, n + 1, total))
            return true;
    }
    return false;
}

int st_tlv_split(const uint8_t *data, size_t len, const struct st_tlv_rule *rules, size_t nrules,
                 struct st_tlv *out, size_t *n)
{
    static const uint8_t empty[1];
    struct split s = {
        .end = (data != NULL ? data : empty) + len,
        .rules = rules,
        .nrules = nrules,
        .out = out,
        .budget = SPLIT_BUDGET,
    };
    size_t total = 0;
    if (len > 0 && data == NULL)
        return -1;
    if (!split_from(&s, data != NULL ? data : empty, 0, &total))
        return -1;
    *n = total;
    return 0;
}

const struct st_tlv *st_tlv_find(const struct st_tlv *t, size_t n, uint8_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].tag == tag)
            return &t[i];
    return NULL;
}

int st_tlv_ref(const struct st_tlv *t, size_t n, uint8_t id_tag, const struct st_tlv **ref)
{
    const struct st_tlv *id = st_tlv_find(t, n, id_tag);
    const struct st_tlv *label = st_tlv_find(t, n, (uint8_t)(id_tag - 0x10));
    if (id != NULL && label != NULL)
        return -1;
    *ref = id != NULL ? id : label;
    return 0;
}
