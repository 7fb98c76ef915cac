/*
 * Serial port of the AT transport (see at_port.h).
 */
#include "at_port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "simtrust/error.h"

int64_t st_at_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct {
    unsigned baud;
    speed_t speed;
} rates[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1500000, B1500000}, {2000000, B2000000},
    {3000000, B3000000}, {4000000, B4000000},
};

static int speed_of(unsigned baud, speed_t *out)
{
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (rates[i].baud == baud) {
            *out = rates[i].speed;
            return 1;
        }
    }
    return 0;
}

int st_at_port_baud_ok(unsigned baud)
{
    speed_t s;
    return speed_of(baud, &s);
}

static int fail(int status, char *err, size_t err_len, const char *what, const char *path, int e)
{
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s %s: %s", what, path, strerror(e));
    return status;
}

int st_at_port_open(const char *path, unsigned baud, char *err, size_t err_len)
{
    speed_t speed;
    if (!speed_of(baud, &speed)) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "unsupported baud rate %u", baud);
        return ST_E_ARG;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        /* A missing or unplugged device is "no reader"; anything else is I/O. */
        int st =
            (e == ENOENT || e == ENODEV || e == ENXIO || e == ENOTDIR) ? ST_E_NO_READER : ST_E_IO;
        return fail(st, err, err_len, "cannot open", path, e);
    }
    if (!isatty(fd))
        return fd;

    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        int e = errno;
        close(fd);
        return fail(ST_E_IO, err, err_len, "tcgetattr", path, e);
    }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CREAD | CLOCAL;
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    /* Reads never block in the kernel: poll() does the waiting, with a deadline. */
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 ||
        tcsetattr(fd, TCSANOW, &tio) != 0) {
        int e = errno;
        close(fd);
        return fail(ST_E_IO, err, err_len, "cannot configure", path, e);
    }
    return fd;
}

static int wait_fd(int fd, short events, int64_t deadline_ms, short *revents)
{
    for (;;) {
        int64_t left = deadline_ms - st_at_now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ST_E_IO;
        }
        if (n == 0) {
            if (left == 0)
                return ST_E_TIMEOUT;
            continue;
        }
        *revents = p.revents;
        return ST_OK;
    }
}

/* errno of a failed read/write on a serial device, as a transport code. */
static int io_status(int e)
{
    /* EIO: a pty whose other side closed, or a USB modem unplugged. */
    if (e == EIO || e == ENXIO || e == ENODEV || e == EPIPE || e == ECONNRESET)
        return ST_E_LINK_CLOSED;
    return ST_E_IO;
}

int st_at_port_write(int fd, const void *buf, size_t n, int64_t deadline_ms)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return io_status(errno);
        short rev = 0;
        int st = wait_fd(fd, POLLOUT, deadline_ms, &rev);
        if (st != ST_OK)
            return st;
        if ((rev & (POLLERR | POLLNVAL)) != 0)
            return ST_E_IO;
        if ((rev & POLLHUP) != 0 && (rev & POLLOUT) == 0)
            return ST_E_LINK_CLOSED;
    }
    return ST_OK;
}

int st_at_port_read(int fd, uint8_t *buf, size_t cap, size_t *got, int64_t deadline_ms)
{
    bool was_readable = false;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r > 0) {
            *got = (size_t)r;
            return ST_OK;
        }
        if (r == 0) {
            /*
             * A raw terminal (VMIN=0) reads 0 when it is empty; a socket or
             * FIFO reads 0 at end of file. Reading 0 right after poll() said
             * "readable" can only be the end of file.
             */
            if (was_readable)
                return ST_E_LINK_CLOSED;
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return io_status(errno);
        }
        short rev = 0;
        int st = wait_fd(fd, POLLIN, deadline_ms, &rev);
        if (st != ST_OK)
            return st;
        if ((rev & POLLNVAL) != 0)
            return ST_E_IO;
        if ((rev & POLLIN) == 0 && (rev & (POLLHUP | POLLERR)) != 0)
            return ST_E_LINK_CLOSED;
        was_readable = (rev & POLLIN) != 0;
    }
}

void st_at_port_drain(int fd, unsigned quiet_ms, unsigned max_ms)
{
    uint8_t junk[256];
    int64_t stop = st_at_now_ms() + max_ms;
    bool tty = isatty(fd);
    if (tty)
        tcflush(fd, TCIFLUSH);
    for (;;) {
        ssize_t r = read(fd, junk, sizeof(junk));
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && !tty)
            return; /* end of file: nothing more will come */
        if (quiet_ms == 0)
            return;
        int64_t now = st_at_now_ms();
        if (now >= stop)
            return;
        int64_t until = now + quiet_ms < stop ? now + quiet_ms : stop;
        short rev = 0;
        if (wait_fd(fd, POLLIN, until, &rev) != ST_OK || (rev & POLLIN) == 0)
            return; /* quiet long enough, or the line is gone */
    }
}
