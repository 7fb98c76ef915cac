/*
 * --latency for `simtrust-card serve`: presets that make the virtual card
 * about as slow as a real SIM behind a cellular module, or a custom list.
 * The figures are orders of magnitude of real UICCs (reference §9: real-SIM
 * timing is anecdotal), meant for benchmarks, not for precise emulation.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

static void preset_modem_sim(struct st_latency *l)
{
    *l = (struct st_latency){
        .sleep = true,
        .per_apdu_us = 20000,
        .per_byte_us = 50,
        .sign_us = 100000,
        .verify_us = 100000,
        .ecdh_us = 110000,
        .keygen_us = 800000,
        .prf_us = 30000,
        .hkdf_us = 30000,
        .random_us = 10000,
        .write_us = 10000,
    };
}

/* Same card, reached directly (PC/SC) instead of through a module's AT interpreter. */
static void preset_sim(struct st_latency *l)
{
    preset_modem_sim(l);
    l->per_apdu_us = 2000;
}

static int apply_preset(const char *name, size_t len, struct st_latency *l)
{
    if (len == 4 && memcmp(name, "none", 4) == 0) {
        *l = (struct st_latency){0};
        return 0;
    }
    if (len == 3 && memcmp(name, "sim", 3) == 0) {
        preset_sim(l);
        return 0;
    }
    if (len == 9 && memcmp(name, "modem-sim", 9) == 0) {
        preset_modem_sim(l);
        return 0;
    }
    return -1;
}

/* "<digits>[us|ms|s]" -> microseconds (no unit: microseconds). */
static int parse_duration(const char *v, size_t len, uint32_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(buf, &end, 10);
    if (errno != 0)
        return -1;
    unsigned long long mul;
    if (strcmp(end, "") == 0 || strcmp(end, "us") == 0)
        mul = 1;
    else if (strcmp(end, "ms") == 0)
        mul = 1000;
    else if (strcmp(end, "s") == 0)
        mul = 1000000;
    else
        return -1;
    if (n > UINT32_MAX / mul)
        return -1;
    *out = (uint32_t)(n * mul);
    return 0;
}

static uint32_t *field(struct st_latency *l, const char *key, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"per_apdu", offsetof(struct st_latency, per_apdu_us)},
        {"per_byte", offsetof(struct st_latency, per_byte_us)},
        {"sign", offsetof(struct st_latency, sign_us)},
        {"verify", offsetof(struct st_latency, verify_us)},
        {"ecdh", offsetof(struct st_latency, ecdh_us)},
        {"keygen", offsetof(struct st_latency, keygen_us)},
        {"prf", offsetof(struct st_latency, prf_us)},
        {"hkdf", offsetof(struct st_latency, hkdf_us)},
        {"random", offsetof(struct st_latency, random_us)},
        {"write", offsetof(struct st_latency, write_us)},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, key, len) == 0)
            return (uint32_t *)((char *)l + keys[i].off);
    return NULL;
}

int st_latency_parse(const char *spec, struct st_latency *out, char *err, size_t err_len)
{
    struct st_latency l = {0};
    /* A custom list sleeps unless told otherwise: that is why one writes it. */
    l.sleep = true;
    const char *p = spec;
    bool first = true;
    if (*p == '\0') {
        snprintf(err, err_len, "--latency: empty value");
        return -1;
    }
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL) {
            if (!first || apply_preset(p, len, &l) != 0) {
                snprintf(err, err_len,
                         "--latency: '%.*s' is not a preset (none, sim, modem-sim) or key=value",
                         (int)len, p);
                return -1;
            }
        } else {
            size_t klen = (size_t)(eq - p);
            const char *v = eq + 1;
            size_t vlen = len - klen - 1;
            if (klen == 5 && memcmp(p, "sleep", 5) == 0) {
                if ((vlen == 3 && memcmp(v, "yes", 3) == 0) || (vlen == 1 && v[0] == '1'))
                    l.sleep = true;
                else if ((vlen == 2 && memcmp(v, "no", 2) == 0) || (vlen == 1 && v[0] == '0'))
                    l.sleep = false;
                else {
                    snprintf(err, err_len, "--latency: sleep must be yes or no");
                    return -1;
                }
            } else {
                uint32_t *f = field(&l, p, klen);
                if (f == NULL) {
                    snprintf(err, err_len, "--latency: unknown key '%.*s'", (int)klen, p);
                    return -1;
                }
                if (parse_duration(v, vlen, f) != 0) {
                    snprintf(err, err_len, "--latency: bad duration '%.*s' (e.g. 100ms, 50us, 1s)",
                             (int)vlen, v);
                    return -1;
                }
            }
        }
        first = false;
        p += len;
        if (*p == ',')
            p++;
    }
    *out = l;
    return 0;
}
