/*
 * The generic part of a front end: dispatch to its ops, the response style
 * switch, endpoint parsing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fe_internal.h"

const char *st_fe_ready_line(const st_fe *fe)
{
    return fe->ready;
}

size_t st_fe_pollfds(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms)
{
    return fe->ops->pollfds(fe, pfd, cap, timeout_ms);
}

int st_fe_dispatch(st_fe *fe, const struct pollfd *pfd, size_t n)
{
    return fe->ops->dispatch(fe, pfd, n);
}

void st_fe_free(st_fe *fe)
{
    if (fe != NULL)
        fe->ops->free(fe);
}

size_t st_fe_transmit(st_card *card, bool t0_style, const uint8_t *capdu, size_t clen,
                      uint8_t *rapdu)
{
    /*
     * The style is a property of the link, not of the card: a modem hides
     * T=0 behind AT+CSIM, a PC/SC reader speaking T=1 does not. One card may
     * serve both at once, so the front end re-asserts it per APDU.
     */
    st_card_set_t0_style(card, t0_style);
    return st_card_transmit(card, capdu, clen, rapdu);
}

int st_fe_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int64_t st_fe_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void st_fe_timeout_until(int *timeout_ms, int64_t deadline_ms)
{
    int64_t left = deadline_ms - st_fe_now_ms();
    if (left < 0)
        left = 0;
    if (left > 60000)
        left = 60000;
    if (*timeout_ms < 0 || left < *timeout_ms)
        *timeout_ms = (int)left;
}

int st_fe_parse_endpoint(const char *arg, const char *default_host, char *host, size_t host_cap,
                         uint16_t *port, char *err, size_t err_len)
{
    const char *port_str = arg;
    const char *h = default_host;
    size_t hlen = strlen(default_host);
    const char *colon = strrchr(arg, ':');
    if (arg[0] == '[') {
        /* [IPv6]:PORT */
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, err_len, "bad endpoint '%s': expected [ADDRESS]:PORT", arg);
            return -1;
        }
        h = arg + 1;
        hlen = (size_t)(close - h);
        port_str = close + 2;
    } else if (colon != NULL) {
        if (strchr(arg, ':') != colon) {
            snprintf(err, err_len, "bad endpoint '%s': write IPv6 addresses as [ADDRESS]:PORT",
                     arg);
            return -1;
        }
        h = arg;
        hlen = (size_t)(colon - arg);
        port_str = colon + 1;
    }
    if (hlen == 0 || hlen >= host_cap) {
        snprintf(err, err_len, "bad endpoint '%s': empty or too long host", arg);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(port_str, &end, 10);
    if (port_str[0] < '0' || port_str[0] > '9' || errno != 0 || end == port_str || *end != '\0' ||
        p > 65535) {
        snprintf(err, err_len, "bad endpoint '%s': port must be 0..65535", arg);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}
