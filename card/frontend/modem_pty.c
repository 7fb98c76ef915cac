/*
 * Modem front end: the AT engine (modem_at.c) behind a pseudo-terminal, so
 * that clients written for a serial cellular module (wolfSSL's IoT-SAFE
 * port, Thales' middleware, ...) run unchanged against the slave path.
 * Reference §5: a pty with a raw master works with those clients; Thales
 * hard-codes /dev/ttyACM0, hence the optional symlink.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "fe_internal.h"
#include "st_log.h"

/* Reading is paused while this much output waits for the client. */
#define OUT_LOW_WATER (64 * 1024)
/* Hard cap: a client that never reads loses output beyond this. */
#define OUT_CAP (1024 * 1024)
#define READ_CHUNK 512

struct fe_modem {
    st_fe base; /* first */
    int master;
    int slave; /* kept open by us: see open_pty() */
    char slave_path[PATH_MAX];
    char *link;
    st_modem *engine;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    bool out_dropped_logged;
};

/* st_modem_write_fn: queue output for the terminal. */
static void queue_output(void *ctx, const void *buf, size_t n)
{
    struct fe_modem *fm = ctx;
    size_t pending = fm->out_len - fm->out_off;
    if (pending + n > OUT_CAP) {
        if (!fm->out_dropped_logged)
            st_warn("modem: client does not read its replies; output dropped");
        fm->out_dropped_logged = true;
        return;
    }
    if (fm->out_len + n > fm->out_cap && fm->out_off > 0) {
        if (pending > 0)
            memmove(fm->out, fm->out + fm->out_off, pending);
        fm->out_off = 0;
        fm->out_len = pending;
    }
    if (fm->out_len + n > fm->out_cap) {
        size_t want = fm->out_cap ? fm->out_cap : 4096;
        while (want < fm->out_len + n)
            want *= 2;
        uint8_t *p = realloc(fm->out, want);
        if (p == NULL) {
            st_warn("modem: out of memory; output dropped");
            return;
        }
        fm->out = p;
        fm->out_cap = want;
    }
    memcpy(fm->out + fm->out_len, buf, n);
    fm->out_len += n;
}

static size_t modem_pollfds(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms)
{
    struct fe_modem *fm = (struct fe_modem *)fe;
    (void)timeout_ms;
    if (cap < 1)
        return 0;
    short ev = 0;
    size_t pending = fm->out_len - fm->out_off;
    if (pending < OUT_LOW_WATER)
        ev |= POLLIN;
    if (pending > 0)
        ev |= POLLOUT;
    pfd[0] = (struct pollfd){.fd = fm->master, .events = ev};
    return 1;
}

static void flush_output(struct fe_modem *fm)
{
    while (fm->out_off < fm->out_len) {
        ssize_t n = write(fm->master, fm->out + fm->out_off, fm->out_len - fm->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                st_debug("modem: write: %s", strerror(errno));
            return;
        }
        fm->out_off += (size_t)n;
    }
    fm->out_off = fm->out_len = 0;
    fm->out_dropped_logged = false;
}

static int modem_dispatch(st_fe *fe, const struct pollfd *pfd, size_t n)
{
    struct fe_modem *fm = (struct fe_modem *)fe;
    if (n < 1 || pfd[0].revents == 0)
        return 0;
    if ((pfd[0].revents & (POLLNVAL | POLLERR | POLLHUP)) && !(pfd[0].revents & POLLIN)) {
        /* We hold the slave open, so this is a broken pty, not a client leaving. */
        st_err("modem: pseudo-terminal failed");
        return -1;
    }
    if (pfd[0].revents & POLLIN) {
        uint8_t buf[READ_CHUNK];
        ssize_t got = read(fm->master, buf, sizeof(buf));
        if (got > 0)
            st_modem_input(fm->engine, buf, (size_t)got);
        else if (got < 0 && errno != EAGAIN && errno != EINTR && errno != EIO)
            st_debug("modem: read: %s", strerror(errno));
    }
    flush_output(fm);
    return 0;
}

static void remove_link(struct fe_modem *fm)
{
    if (fm->link == NULL)
        return;
    /* Only remove the link if it still points at our pty. */
    char target[PATH_MAX];
    ssize_t n = readlink(fm->link, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = '\0';
        if (strcmp(target, fm->slave_path) == 0 && unlink(fm->link) != 0)
            st_warn("modem: cannot remove %s: %s", fm->link, strerror(errno));
    }
    free(fm->link);
    fm->link = NULL;
}

static void modem_free(st_fe *fe)
{
    struct fe_modem *fm = (struct fe_modem *)fe;
    st_modem_free(fm->engine);
    remove_link(fm);
    if (fm->slave >= 0)
        close(fm->slave);
    if (fm->master >= 0)
        close(fm->master);
    free(fm->out);
    free(fm);
}

static const struct st_fe_ops modem_ops = {
    .pollfds = modem_pollfds,
    .dispatch = modem_dispatch,
    .free = modem_free,
};

static int open_pty(struct fe_modem *fm, char *err, size_t err_len)
{
    fm->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (fm->master < 0 || grantpt(fm->master) != 0 || unlockpt(fm->master) != 0) {
        snprintf(err, err_len, "modem: cannot create a pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    const char *name = ptsname(fm->master);
    if (name == NULL || strlen(name) >= sizeof(fm->slave_path)) {
        snprintf(err, err_len, "modem: ptsname failed");
        return -1;
    }
    strcpy(fm->slave_path, name);
    /*
     * Holding the slave open keeps the master from reporting hang-up while
     * no client is attached (and between clients), and lets us put the line
     * in raw mode once: no echo by the tty layer (the engine echoes like a
     * modem), no CR/LF translation, bytes delivered as they come.
     */
    fm->slave = open(fm->slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fm->slave < 0) {
        snprintf(err, err_len, "modem: cannot open %s: %s", fm->slave_path, strerror(errno));
        return -1;
    }
    struct termios tio;
    if (tcgetattr(fm->slave, &tio) == 0) {
        cfmakeraw(&tio);
        cfsetispeed(&tio, B115200);
        cfsetospeed(&tio, B115200);
        tcsetattr(fm->slave, TCSANOW, &tio);
    }
    if (st_fe_set_nonblock(fm->master) != 0 || fcntl(fm->master, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, err_len, "modem: fcntl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int make_link(struct fe_modem *fm, const char *link, char *err, size_t err_len)
{
    struct stat st;
    if (lstat(link, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            snprintf(err, err_len, "modem: %s exists and is not a symlink; not replacing it", link);
            return -1;
        }
        if (unlink(link) != 0) {
            snprintf(err, err_len, "modem: cannot replace %s: %s", link, strerror(errno));
            return -1;
        }
    }
    if (symlink(fm->slave_path, link) != 0) {
        snprintf(err, err_len, "modem: cannot create %s: %s", link, strerror(errno));
        return -1;
    }
    fm->link = strdup(link);
    if (fm->link == NULL) {
        unlink(link);
        snprintf(err, err_len, "modem: out of memory");
        return -1;
    }
    st_info("modem: %s -> %s", link, fm->slave_path);
    return 0;
}

st_fe *st_fe_modem_new(st_card *card, const struct st_modem_config *cfg, char *err, size_t err_len)
{
    struct fe_modem *fm = calloc(1, sizeof(*fm));
    if (fm == NULL) {
        snprintf(err, err_len, "modem: out of memory");
        return NULL;
    }
    fm->base.ops = &modem_ops;
    fm->base.card = card;
    fm->master = fm->slave = -1;
    fm->engine = st_modem_new(card, cfg, queue_output, fm);
    if (fm->engine == NULL) {
        snprintf(err, err_len, "modem: bad --max-line or out of memory");
        modem_free(&fm->base);
        return NULL;
    }
    if (open_pty(fm, err, err_len) != 0 ||
        (cfg->link != NULL && make_link(fm, cfg->link, err, err_len) != 0)) {
        modem_free(&fm->base);
        return NULL;
    }
    int n = snprintf(fm->base.ready, sizeof(fm->base.ready), "modem: %s", fm->slave_path);
    if (n < 0 || (size_t)n >= sizeof(fm->base.ready)) {
        snprintf(err, err_len, "modem: pty path too long: %s", fm->slave_path);
        modem_free(&fm->base);
        return NULL;
    }
    st_info("modem: AT interface on %s", fm->slave_path);
    return &fm->base;
}
