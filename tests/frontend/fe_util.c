#include "fe_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "card.h"
#include "card_crypto.h"
#include "objects.h"

int fe_failures;

void fe_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    if (!ok)
        printf("  (%s:%d)", file, line);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!ok)
        fe_failures++;
}

void fe_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FATAL: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    exit(1);
}

size_t fe_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        fe_die("bad hex literal %s", hex);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            fe_die("bad hex literal %s", hex);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

long long fe_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_label(struct st_object *o, uint8_t id, const char *label)
{
    o->in_use = true;
    o->id_len = 1;
    o->id[0] = id;
    o->label_len = (uint8_t)strlen(label);
    memcpy(o->label, label, o->label_len);
}

int fe_make_image(const char *path)
{
    static struct st_card_state s; /* large: not on the stack */
    st_card_state_init(&s);
    static const uint8_t iccid[] = {0x98, 0x88, 0x22, 0x08, 0x00, 0x00, 0x00, 0x00, 0x10, 0x71};
    s.iccid_len = sizeof(iccid);
    memcpy(s.iccid, iccid, sizeof(iccid));
    /* The Orange client needs the 1-byte signature length form; either works here. */
    s.sig_form = ST_SIG_FORM_2BYTE;

    struct st_object *priv = st_objects_alloc(&s, ST_OBJ_PRIVATE_KEY);
    struct st_object *pub = st_objects_alloc(&s, ST_OBJ_PUBLIC_KEY);
    if (priv == NULL || pub == NULL)
        return -1;
    set_label(priv, FE_KEY_ID, "client");
    set_label(pub, FE_KEY_ID, "client");
    uint16_t priv_len = 0, pub_len = 0;
    if (st_crypto_keygen(ST_KEY_P256, priv->value, &priv_len, pub->value, &pub_len) != 0) {
        fprintf(stderr, "key generation failed\n");
        return -1;
    }
    struct st_object *keys[] = {priv, pub};
    for (int k = 0; k < 2; k++) {
        struct st_object *o = keys[k];
        o->access = ST_ACCESS_READ | ST_ACCESS_UPDATE;
        o->state = ST_STATE_ACTIVATED;
        o->key_type = ST_KEY_P256;
        o->usage = ST_USAGE_GENERAL;
        o->functions = ST_FN_SIGN | ST_FN_KEY_AGREEMENT;
        o->sig_algos = ST_SIG_ECDSA;
        o->hash_algos = ST_HASH_SHA256 | ST_HASH_SHA384 | ST_HASH_SHA512;
        o->key_agreement = ST_KA_ECKA;
    }
    priv->value_len = priv_len;
    pub->value_len = pub_len;

    struct st_object *f = st_objects_alloc(&s, ST_OBJ_FILE);
    if (f == NULL)
        return -1;
    set_label(f, FE_FILE_ID, "cert");
    f->access = ST_ACCESS_READ;
    f->state = ST_STATE_ACTIVATED;
    f->usage = ST_FILE_GENERAL;
    for (size_t i = 0; i < FE_FILE_LEN; i++)
        f->value[i] = fe_file_byte(i);
    f->value_len = FE_FILE_LEN;

    struct st_card_config cfg = {.image_path = path};
    char err[256];
    st_card *card = st_card_new(&cfg, &s, err, sizeof(err));
    if (card == NULL) {
        fprintf(stderr, "cannot write %s: %s\n", path, err);
        return -1;
    }
    st_card_free(card);
    return 0;
}

/* Reads one line from fd (byte by byte: the rest belongs to the caller). */
static int read_line(int fd, char *buf, size_t cap, long long deadline)
{
    size_t n = 0;
    for (;;) {
        long long left = deadline - fe_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return -1;
        if (c == '\n') {
            buf[n] = '\0';
            return 0;
        }
        if (n + 1 < cap)
            buf[n++] = c;
    }
}

/* Card processes still running at exit (after fe_die) are killed, so none
 * stays connected to pcscd's vpcd port and answers a later test. */
#define MAX_CHILDREN 32
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

void fe_server_start(struct fe_server *s, const char *card_prog, const char *const *args,
                     const char *ready_prefix, char *value, size_t cap)
{
    memset(s, 0, sizeof(*s));
    const char *tmp = getenv("TMPDIR");
    snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/simtrust-fe-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(s->tmpdir) == NULL)
        fe_die("mkdtemp: %s", strerror(errno));
    snprintf(s->image, sizeof(s->image), "%s/card.img", s->tmpdir);
    if (fe_make_image(s->image) != 0)
        fe_die("cannot make the test image");

    const char *argv[32];
    size_t n = 0;
    argv[n++] = card_prog;
    argv[n++] = "serve";
    argv[n++] = "--image";
    argv[n++] = s->image;
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int pfd[2];
    if (pipe(pfd) != 0)
        fe_die("pipe: %s", strerror(errno));
    fflush(stdout);
    s->pid = fork();
    if (s->pid < 0)
        fe_die("fork: %s", strerror(errno));
    if (s->pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(card_prog, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", card_prog, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    remember_child(s->pid);
    s->out_fd = pfd[0];
    char line[512];
    long long deadline = fe_now_ms() + 10000;
    size_t plen = strlen(ready_prefix);
    while (read_line(s->out_fd, line, sizeof(line), deadline) == 0) {
        if (strncmp(line, ready_prefix, plen) == 0) {
            snprintf(value, cap, "%s", line + plen);
            return;
        }
    }
    fe_server_stop(s);
    fe_die("simtrust-card serve printed no '%s' line", ready_prefix);
}

int fe_server_stop(struct fe_server *s)
{
    int status = 0, rc = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        long long deadline = fe_now_ms() + 10000;
        pid_t w;
        while ((w = waitpid(s->pid, &status, WNOHANG)) == 0 && fe_now_ms() < deadline)
            usleep(20000);
        if (w == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
        } else if (w == s->pid && WIFEXITED(status)) {
            rc = WEXITSTATUS(status);
        }
        s->pid = 0;
    }
    if (s->out_fd > 0)
        close(s->out_fd);
    s->out_fd = -1;
    if (s->tmpdir[0] != '\0') {
        char path[600];
        const char *names[] = {"card.img", "card.img.tmp"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", s->tmpdir, names[i]);
            unlink(path);
        }
        rmdir(s->tmpdir);
        s->tmpdir[0] = '\0';
    }
    return rc;
}
