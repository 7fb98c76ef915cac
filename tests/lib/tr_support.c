/*
 * Helpers of the transport tests (see tr_support.h).
 */
#define _GNU_SOURCE /* posix_openpt, ptsname_r */
#include "tr_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long long trs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long trs_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        int v = nibble(*p);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? (long)n : -1;
}

const char *trs_card_bin(void)
{
    const char *p = getenv("ST_CARD_BIN");
    if (p == NULL || p[0] == '\0' || access(p, X_OK) != 0)
        return NULL;
    return p;
}

/* Runs argv with its output in log; returns the exit status. */
static int run_wait(const char *const *argv, const char *log)
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_profile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "{\"iccid\":\"89882280000000000017\","
               "\"private_keys\":[{\"id\":\"01\",\"label\":\"client\",\"type\":\"p256\","
               "\"generate\":true,\"public_id\":\"01\"}],"
               "\"files\":[{\"id\":\"02\",\"label\":\"cert\",\"usage\":\"general\",\"hex\":\"");
    for (size_t i = 0; i < TRS_FILE_LEN; i++)
        fprintf(f, "%02X", trs_file_byte(i));
    fprintf(f, "\"}]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* Removes the files of a test directory (flat: the card keeps no subdirectories), then it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[400];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Reads stdout lines until one starts with prefix; its rest goes to out. */
static int wait_ready(struct trs_card *c, const char *prefix, char *out, size_t cap)
{
    char buf[1024];
    size_t len = 0;
    long long deadline = trs_now_ms() + 10000;
    size_t plen = strlen(prefix);
    while (trs_now_ms() < deadline) {
        struct pollfd p = {.fd = c->out_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(c->out_fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            return -1; /* the card exited */
        len += (size_t)r;
        buf[len] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            if (strncmp(buf, prefix, plen) == 0) {
                const char *v = buf + plen;
                while (*v == ' ')
                    v++;
                snprintf(out, cap, "%s", v);
                return 0;
            }
            size_t rest = len - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            len = rest;
            buf[len] = '\0';
        }
        if (len == sizeof(buf) - 1)
            len = 0;
    }
    return -1;
}

/*
 * Every card process started, so a test that fails before its cleanup (a
 * cmocka assertion) does not leave a card connected to pcscd's vpcd port,
 * where it would answer the next run's tests.
 */
#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static size_t child_count;

static void kill_children(void)
{
    for (size_t i = 0; i < child_count; i++)
        if (children[i] > 0 && waitpid(children[i], NULL, WNOHANG) == 0)
            kill(children[i], SIGKILL);
}

static void remember_child(pid_t pid)
{
    if (child_count == 0)
        atexit(kill_children);
    if (child_count < MAX_CHILDREN)
        children[child_count++] = pid;
}

int trs_card_start(struct trs_card *c, const char *const *args, const char *ready_prefix)
{
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->out_fd = -1;
    const char *bin = trs_card_bin();
    if (bin == NULL) {
        fprintf(stderr, "simtrust-card not built (ST_CARD_BIN)\n");
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "%s/st-tr.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(c->dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    char profile[192];
    snprintf(profile, sizeof(profile), "%s/profile.json", c->dir);
    snprintf(c->image, sizeof(c->image), "%s/card.img", c->dir);
    if (write_profile(profile) != 0) {
        fprintf(stderr, "cannot write %s\n", profile);
        return -1;
    }
    const char *pargv[] = {bin, "personalise", "--profile", profile, "--image", c->image, NULL};
    char plog[192];
    snprintf(plog, sizeof(plog), "%s/personalise.log", c->dir);
    if (run_wait(pargv, plog) != 0) {
        fprintf(stderr, "simtrust-card personalise failed (%s)\n", plog);
        return -1;
    }

    const char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--image";
    argv[n++] = c->image;
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int out[2];
    if (pipe(out) != 0)
        return -1;
    char errlog[192];
    snprintf(errlog, sizeof(errlog), "%s/serve.err", c->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    int rc = posix_spawn(&c->pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        c->pid = -1;
        return -1;
    }
    remember_child(c->pid);
    c->out_fd = out[0];
    if (wait_ready(c, ready_prefix, c->ready, sizeof(c->ready)) != 0) {
        fprintf(stderr, "simtrust-card serve: no \"%s\" line\n", ready_prefix);
        trs_card_stop(c);
        return -1;
    }
    return 0;
}

void trs_card_kill(struct trs_card *c, int sig)
{
    if (c->pid > 0)
        kill(c->pid, sig);
}

int trs_card_stop(struct trs_card *c)
{
    int status = -1;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        long long deadline = trs_now_ms() + 5000;
        pid_t r;
        while ((r = waitpid(c->pid, &status, WNOHANG)) == 0 && trs_now_ms() < deadline)
            usleep(20000);
        if (r == 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
        }
        c->pid = -1;
        status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->dir[0] != '\0') {
        remove_dir(c->dir);
        c->dir[0] = '\0';
    }
    return status;
}

int trs_pty(char *slave, size_t cap)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0)
        return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, slave, cap) != 0) {
        close(m);
        return -1;
    }
    struct termios t;
    if (tcgetattr(m, &t) == 0) {
        /* No echo or line editing by the pty itself: the fake modem decides. */
        cfmakeraw(&t);
        tcsetattr(m, TCSANOW, &t);
    }
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    return m;
}

/* ---- fake modem ---- */

void fm_write(struct fake_modem *fm, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    long long deadline = trs_now_ms() + 2000;
    while (n > 0 && trs_now_ms() < deadline) {
        ssize_t w = write(fm->master, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else {
            /* Nobody reads (a test of a full line): give up after the deadline. */
            usleep(1000);
        }
    }
}

void fm_say(struct fake_modem *fm, const char *s)
{
    fm_write(fm, s, strlen(s));
}

static void record(struct fake_modem *fm, const char *line)
{
    pthread_mutex_lock(&fm->mu);
    if (fm->nlines < FM_LINES) {
        /* Longer lines are cut: the checks only look at their start. */
        size_t n = strnlen(line, sizeof(fm->lines[0]) - 1);
        memcpy(fm->lines[fm->nlines], line, n);
        fm->lines[fm->nlines++][n] = '\0';
    }
    pthread_mutex_unlock(&fm->mu);
}

static void *fm_main(void *arg)
{
    struct fake_modem *fm = arg;
    char line[1200];
    size_t len = 0;
    while (!fm->stop) {
        struct pollfd p = {.fd = fm->master, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        uint8_t buf[512];
        ssize_t r = read(fm->master, buf, sizeof(buf));
        if (r <= 0) {
            /* EIO while no slave is open: wait for the transport to open it. */
            usleep(5000);
            continue;
        }
        for (ssize_t i = 0; i < r; i++) {
            char ch = (char)buf[i];
            if (ch == '\r' || ch == '\n') {
                if (len == 0)
                    continue;
                line[len] = '\0';
                len = 0;
                record(fm, line);
                if (fm->echo) {
                    fm_say(fm, line);
                    fm_say(fm, "\r");
                }
                fm->reply(fm, line);
            } else if (len < sizeof(line) - 1) {
                line[len++] = ch;
            }
        }
    }
    return NULL;
}

int fm_start(struct fake_modem *fm, fm_reply_fn reply, void *arg, bool echo)
{
    memset(fm, 0, sizeof(*fm));
    fm->master = trs_pty(fm->slave, sizeof(fm->slave));
    if (fm->master < 0)
        return -1;
    fm->reply = reply;
    fm->arg = arg;
    fm->echo = echo;
    pthread_mutex_init(&fm->mu, NULL);
    if (pthread_create(&fm->thread, NULL, fm_main, fm) != 0) {
        close(fm->master);
        return -1;
    }
    return 0;
}

void fm_stop(struct fake_modem *fm)
{
    fm->stop = true;
    pthread_join(fm->thread, NULL);
    close(fm->master);
    pthread_mutex_destroy(&fm->mu);
}

unsigned fm_count(struct fake_modem *fm)
{
    pthread_mutex_lock(&fm->mu);
    unsigned n = fm->nlines;
    pthread_mutex_unlock(&fm->mu);
    return n;
}

void fm_line(struct fake_modem *fm, unsigned i, char *out, size_t cap)
{
    pthread_mutex_lock(&fm->mu);
    snprintf(out, cap, "%s", i < fm->nlines ? fm->lines[i] : "");
    pthread_mutex_unlock(&fm->mu);
}

void fm_find(struct fake_modem *fm, const char *prefix, char *out, size_t cap)
{
    pthread_mutex_lock(&fm->mu);
    out[0] = '\0';
    for (unsigned i = fm->nlines; i-- > 0;) {
        if (strncmp(fm->lines[i], prefix, strlen(prefix)) == 0) {
            snprintf(out, cap, "%s", fm->lines[i]);
            break;
        }
    }
    pthread_mutex_unlock(&fm->mu);
}
