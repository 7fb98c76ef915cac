/*
 * Tearing: "every cut point of the tearing test leaves a card that loads,
 * holding exactly the old or the new state" (card/image.h atomicity).
 *
 * st_image_save() runs against a model file system (struct fsm) through a
 * fault-injecting struct st_image_io. The model keeps, per file, the bytes
 * written so far and the bytes made durable by fsync, and per name the
 * directory entry as last seen and as made durable by fsync_dir. After a cut
 * it lists every state a crash could leave behind (directory entry as seen
 * or as synced; file content as written or as synced), writes each to a real
 * file and loads it with st_image_load(). A save that skipped the fsync
 * before the rename, or renamed before writing everything, fails here.
 *
 * Cut points: every tick of the sequence, where a tick is one operation
 * (open, fsync, close, rename, fsync_dir) or one byte written. The cut at
 * tick k lets k ticks complete; in "power" mode nothing happens after it, in
 * "error" mode only the operation at tick k fails (errno EIO) and the
 * process carries on. Each sweep runs with whole writes and with short
 * writes (at most 7 bytes per call).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "card.h"
#include "image.h"
#include "st_hex.h"
#include "st_log.h"
#include "store_fixture.h"

/* ---- the model file system ---- */

#define FSM_INODES 8
#define FSM_FD_BASE 100

struct inode {
    uint8_t *data; /* as written (page cache) */
    size_t len;
    uint8_t *synced; /* as made durable by fsync */
    size_t synced_len;
};

enum { NAME_IMG, NAME_TMP, NAMES };

struct fsm {
    struct inode ino[FSM_INODES];
    int ninodes;
    int seen[NAMES];   /* inode per name as seen by the running program, -1 = none */
    int synced[NAMES]; /* as made durable by fsync_dir */
};

enum cut_mode { CUT_POWER, CUT_ERROR };

struct fault {
    struct fsm fs;
    const char *img_path, *tmp_path;
    long budget; /* ticks left before the cut; < 0 = no cut */
    enum cut_mode mode;
    bool dead;                        /* power lost */
    size_t chunk;                     /* short writes: at most this many bytes per call (0 = all) */
    long ticks;                       /* ticks completed */
    long rename_tick, fsync_dir_tick; /* tick index of these operations, -1 = not reached */
};

static void fsm_init(struct fsm *fs, const uint8_t *img, size_t len)
{
    memset(fs, 0, sizeof(*fs));
    fs->ino[0].data = malloc(len);
    fs->ino[0].synced = malloc(len);
    memcpy(fs->ino[0].data, img, len);
    memcpy(fs->ino[0].synced, img, len);
    fs->ino[0].len = fs->ino[0].synced_len = len;
    fs->ninodes = 1;
    fs->seen[NAME_IMG] = fs->synced[NAME_IMG] = 0;
    fs->seen[NAME_TMP] = fs->synced[NAME_TMP] = -1;
}

static void fsm_free(struct fsm *fs)
{
    for (int i = 0; i < fs->ninodes; i++) {
        free(fs->ino[i].data);
        free(fs->ino[i].synced);
    }
}

/*
 * Charges one tick. Returns true when the operation may run; false (errno
 * EIO) when it is cut: power lost, or the one injected error.
 */
static bool tick(struct fault *f)
{
    if (f->dead) {
        errno = EIO;
        return false;
    }
    if (f->budget == 0) {
        if (f->mode == CUT_POWER)
            f->dead = true;
        f->budget = -1; /* an error is injected once */
        errno = EIO;
        return false;
    }
    if (f->budget > 0)
        f->budget--;
    f->ticks++;
    return true;
}

static int name_of(const struct fault *f, const char *path)
{
    if (strcmp(path, f->img_path) == 0)
        return NAME_IMG;
    if (strcmp(path, f->tmp_path) == 0)
        return NAME_TMP;
    return -1;
}

static struct inode *inode_of_fd(struct fault *f, int fd)
{
    int i = fd - FSM_FD_BASE;
    return i >= 0 && i < f->fs.ninodes ? &f->fs.ino[i] : NULL;
}

static int m_open_tmp(void *ctx, const char *tmp_path)
{
    struct fault *f = ctx;
    if (name_of(f, tmp_path) != NAME_TMP)
        fail_msg("open_tmp on unexpected path %s", tmp_path);
    if (!tick(f))
        return -1;
    if (f->fs.ninodes == FSM_INODES)
        fail_msg("model: too many files");
    int i = f->fs.ninodes++;
    f->fs.seen[NAME_TMP] = i; /* a new empty file replaces any stray .tmp */
    return FSM_FD_BASE + i;
}

static long m_write(void *ctx, int fd, const void *buf, size_t n)
{
    struct fault *f = ctx;
    struct inode *ino = inode_of_fd(f, fd);
    if (ino == NULL)
        fail_msg("write on unknown fd %d", fd);
    if (f->chunk > 0 && n > f->chunk)
        n = f->chunk;
    /* Bytes up to the cut are written: a short write, then the cut. */
    if (f->budget >= 0 && (size_t)f->budget < n && f->budget > 0)
        n = (size_t)f->budget;
    size_t done = 0;
    for (; done < n; done++)
        if (!tick(f))
            break;
    if (done == 0)
        return -1;
    uint8_t *grown = realloc(ino->data, ino->len + done);
    if (grown == NULL)
        fail_msg("out of memory");
    ino->data = grown;
    memcpy(ino->data + ino->len, buf, done);
    ino->len += done;
    return (long)done;
}

static int m_fsync(void *ctx, int fd)
{
    struct fault *f = ctx;
    struct inode *ino = inode_of_fd(f, fd);
    if (ino == NULL)
        fail_msg("fsync on unknown fd %d", fd);
    if (!tick(f))
        return -1;
    free(ino->synced);
    ino->synced = malloc(ino->len ? ino->len : 1);
    memcpy(ino->synced, ino->data, ino->len);
    ino->synced_len = ino->len;
    return 0;
}

static int m_close(void *ctx, int fd)
{
    struct fault *f = ctx;
    if (inode_of_fd(f, fd) == NULL)
        fail_msg("close on unknown fd %d", fd);
    return tick(f) ? 0 : -1;
}

static int m_rename(void *ctx, const char *from, const char *to)
{
    struct fault *f = ctx;
    if (name_of(f, from) != NAME_TMP || name_of(f, to) != NAME_IMG)
        fail_msg("unexpected rename %s -> %s", from, to);
    long at = f->ticks;
    if (!tick(f))
        return -1;
    if (f->fs.seen[NAME_TMP] < 0) {
        errno = ENOENT;
        return -1;
    }
    f->fs.seen[NAME_IMG] = f->fs.seen[NAME_TMP];
    f->fs.seen[NAME_TMP] = -1;
    f->rename_tick = at;
    return 0;
}

static int m_fsync_dir(void *ctx, const char *dir)
{
    struct fault *f = ctx;
    size_t n = strlen(dir);
    if (strncmp(f->img_path, dir, n) != 0 || f->img_path[n] != '/')
        fail_msg("fsync_dir on %s, not the image's directory", dir);
    long at = f->ticks;
    if (!tick(f))
        return -1;
    memcpy(f->fs.synced, f->fs.seen, sizeof(f->fs.seen));
    f->fsync_dir_tick = at;
    return 0;
}

static struct st_image_io fault_io(struct fault *f)
{
    struct st_image_io io = {m_open_tmp, m_write, m_fsync, m_close, m_rename, m_fsync_dir, f};
    return io;
}

/* ---- checking what a crash leaves ---- */

struct world {
    char *dir;
    char img[4200], tmp[4210];
    uint8_t *old_img;
    size_t old_len;
    struct st_card_state *old_s, *new_s, *loaded;
    long cut_points, outcomes_loaded;
};

enum which { IS_OLD = 1, IS_NEW = 2 };

/* Materialises one surviving image and says whether it holds old or new. */
static enum which load_outcome(struct world *w, const uint8_t *img, size_t len, const char *what)
{
    char err[256] = "";
    if (fx_write_file(w->img, img, len) != 0)
        fail_msg("cannot write %s", w->img);
    if (st_image_load(w->img, w->loaded, err, sizeof(err)) != 0)
        fail_msg("%s: the card does not load: %s", what, err);
    w->outcomes_loaded++;
    if (fx_state_equal(w->loaded, w->old_s, NULL, 0))
        return IS_OLD;
    if (fx_state_equal(w->loaded, w->new_s, NULL, 0))
        return IS_NEW;
    fail_msg("%s: the card holds neither the old nor the new state", what);
    return 0;
}

/*
 * Checks every crash outcome of the model. Returns the set of states seen
 * (IS_OLD | IS_NEW) and, in *live, the one the running program sees.
 */
static int check_outcomes(struct world *w, struct fault *f, const char *what, enum which *live)
{
    int seen = 0;
    char label[200];
    const uint8_t *done_p[4];
    size_t done_n[4];
    enum which done_w[4];
    int ndone = 0;
    for (int d = 0; d < 2; d++) {
        int i = d == 0 ? f->fs.seen[NAME_IMG] : f->fs.synced[NAME_IMG];
        if (i < 0)
            fail_msg("%s: the image name vanished", what);
        const struct inode *ino = &f->fs.ino[i];
        for (int c = 0; c < 2; c++) {
            snprintf(label, sizeof(label), "%s, %s entry, %s content", what,
                     d == 0 ? "seen" : "synced", c == 0 ? "written" : "synced");
            const uint8_t *p = c == 0 ? ino->data : ino->synced;
            size_t n = c == 0 ? ino->len : ino->synced_len;
            enum which got = 0;
            /* Outcomes with the same bytes load the same; load each distinct one. */
            for (int j = 0; j < ndone && got == 0; j++)
                if (done_n[j] == n && (n == 0 || memcmp(done_p[j], p, n) == 0))
                    got = done_w[j];
            if (got == 0) {
                got = load_outcome(w, p, n, label);
                done_p[ndone] = p;
                done_n[ndone] = n;
                done_w[ndone++] = got;
            }
            /* After the rename the visible image is new, whatever was synced. */
            if (d == 0 && f->rename_tick >= 0 && got != IS_NEW)
                fail_msg("%s: rename done but the card is not new", label);
            /* After fsync_dir nothing a crash can do brings the old one back. */
            if (f->fsync_dir_tick >= 0 && got != IS_NEW)
                fail_msg("%s: fsync_dir done but the card is not new", label);
            if (d == 0 && c == 0)
                *live = got;
            seen |= got;
        }
    }
    return seen;
}

/* Runs one save with a cut at tick k and checks every outcome. */
static void run_cut(struct world *w, long k, enum cut_mode mode, size_t chunk, bool *cut)
{
    struct fault f;
    memset(&f, 0, sizeof(f));
    fsm_init(&f.fs, w->old_img, w->old_len);
    f.img_path = w->img;
    f.tmp_path = w->tmp;
    f.budget = k;
    f.mode = mode;
    f.chunk = chunk;
    f.rename_tick = f.fsync_dir_tick = -1;
    struct st_image_io io = fault_io(&f);
    char err[256] = "";
    char what[160];
    snprintf(what, sizeof(what), "%s cut at tick %ld (chunk %zu)",
             mode == CUT_POWER ? "power" : "error", k, chunk);

    int rc = st_image_save(w->img, w->new_s, &io, err, sizeof(err));
    *cut = f.budget == -1; /* the cut fell inside the sequence */
    if (rc != 0 && err[0] == '\0')
        fail_msg("%s: save failed without a reason", what);

    enum which live = 0;
    int seen = check_outcomes(w, &f, what, &live);
    /* The return value tells the truth about what the program sees next. */
    if (rc == 0 && live != IS_NEW)
        fail_msg("%s: save returned 0 but the image is old", what);
    if (rc != 0 && live != IS_OLD)
        fail_msg("%s: save failed (%s) but the image changed", what, err);
    /* Before the rename the image is untouched in every outcome. */
    if (f.rename_tick < 0 && seen != IS_OLD)
        fail_msg("%s: image changed before the rename", what);
    w->cut_points++;
    fsm_free(&f.fs);
}

/*
 * Cuts at tick 0, 1, 2, ... until a save runs to completion without reaching
 * its cut: that last run is the uncut save, so every tick has been cut.
 */
static void sweep(struct world *w, enum cut_mode mode, size_t chunk)
{
    bool cut = true;
    long k;
    for (k = 0; cut; k++)
        run_cut(w, k, mode, chunk, &cut);
    print_message("%s sweep, chunk %zu: %ld cut points (a full save is %ld ticks)\n",
                  mode == CUT_POWER ? "power" : "error", chunk, k, k - 1);
}

/* ram: the model sweeps only need real files to load from; keep them fast. */
static void world_setup(struct world *w, bool ram)
{
    memset(w, 0, sizeof(*w));
    w->dir = ram ? fx_mkdtemp_ram() : fx_mkdtemp();
    snprintf(w->img, sizeof(w->img), "%s/card.img", w->dir);
    snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", w->img);
    w->old_s = calloc(1, sizeof(*w->old_s));
    w->new_s = calloc(1, sizeof(*w->new_s));
    w->loaded = calloc(1, sizeof(*w->loaded));
    assert_non_null(w->old_s);
    assert_non_null(w->new_s);
    assert_non_null(w->loaded);
    fx_state_old(w->old_s);
    fx_state_new(w->new_s);
    char err[256] = "";
    /* The old state is saved for real; the model starts from its bytes. */
    if (st_image_save(w->img, w->old_s, NULL, err, sizeof(err)) != 0)
        fail_msg("save old: %s", err);
    w->old_img = fx_read_file(w->img, &w->old_len);
    assert_non_null(w->old_img);
    /* The two states really differ, in several objects. */
    assert_false(fx_state_equal(w->old_s, w->new_s, NULL, 0));
}

static void world_teardown(struct world *w)
{
    unlink(w->img);
    unlink(w->tmp);
    free(w->old_img);
    free(w->old_s);
    free(w->new_s);
    free(w->loaded);
    fx_rmdir(w->dir);
}

static void test_every_cut_point(void **unused)
{
    struct world w;
    world_setup(&w, true);
    sweep(&w, CUT_POWER, 0);
    sweep(&w, CUT_POWER, 7);
    sweep(&w, CUT_ERROR, 0);
    sweep(&w, CUT_ERROR, 7);
    print_message("%ld cut points, %ld crash outcomes loaded (image %zu -> new)\n", w.cut_points,
                  w.outcomes_loaded, w.old_len);
    world_teardown(&w);
}

/*
 * The cut points of interest one by one, named: each operation failing,
 * power lost right after each operation, and the commit point itself.
 */
static void test_named_steps(void **unused)
{
    struct world w;
    world_setup(&w, true);
    uint8_t *new_img;
    size_t new_len;
    assert_int_equal(st_image_encode(w.new_s, &new_img, &new_len), 0);
    /* Ticks: open 0, bytes 1..len, fsync len+1, close len+2, rename len+3, fsync_dir len+4. */
    const long open_t = 0, fsync_t = (long)new_len + 1, close_t = fsync_t + 1;
    const long rename_t = close_t + 1, dir_t = rename_t + 1;
    const long steps[] = {open_t,   1,     (long)new_len / 2, (long)new_len, fsync_t, close_t,
                          rename_t, dir_t, dir_t + 1};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        for (int m = CUT_POWER; m <= CUT_ERROR; m++) {
            struct fault f;
            memset(&f, 0, sizeof(f));
            fsm_init(&f.fs, w.old_img, w.old_len);
            f.img_path = w.img;
            f.tmp_path = w.tmp;
            f.budget = steps[i];
            f.mode = (enum cut_mode)m;
            f.rename_tick = f.fsync_dir_tick = -1;
            struct st_image_io io = fault_io(&f);
            char err[256] = "";
            int rc = st_image_save(w.img, w.new_s, &io, err, sizeof(err));
            enum which live = 0;
            check_outcomes(&w, &f, "named step", &live);
            /* Saves fail exactly when cut before the rename completed. */
            bool before_commit = steps[i] <= rename_t;
            assert_int_equal(rc, before_commit ? -1 : 0);
            assert_int_equal(live, before_commit ? IS_OLD : IS_NEW);
            if (steps[i] == rename_t && m == CUT_ERROR)
                assert_non_null(strstr(err, "cannot rename"));
            if (steps[i] == open_t && m == CUT_ERROR)
                assert_non_null(strstr(err, "cannot create"));
            fsm_free(&f.fs);
        }
    }
    st_image_free_buf(new_img, new_len);
    world_teardown(&w);
}

/* A write that returns 0 forever must not hang the save: it fails with EIO. */
static long zero_write(void *ctx, int fd, const void *buf, size_t n)
{
    return 0;
}

static void test_zero_write(void **unused)
{
    struct world w;
    world_setup(&w, true);
    struct fault f;
    memset(&f, 0, sizeof(f));
    fsm_init(&f.fs, w.old_img, w.old_len);
    f.img_path = w.img;
    f.tmp_path = w.tmp;
    f.budget = -1;
    f.rename_tick = f.fsync_dir_tick = -1;
    struct st_image_io io = fault_io(&f);
    io.write = zero_write;
    char err[256] = "";
    assert_int_equal(st_image_save(w.img, w.new_s, &io, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot write"));
    enum which live = 0;
    assert_int_equal(check_outcomes(&w, &f, "zero write", &live), IS_OLD);
    fsm_free(&f.fs);
    world_teardown(&w);
}

/* ---- the same on the real file system: errors, then a good save ---- */

struct real_fault {
    long budget; /* operations (not bytes) before the failing one */
};

static bool real_tick(struct real_fault *r)
{
    if (r->budget == 0) {
        r->budget = -1;
        errno = EIO;
        return false;
    }
    if (r->budget > 0)
        r->budget--;
    return true;
}

static int r_open_tmp(void *ctx, const char *p)
{
    return real_tick(ctx) ? st_image_posix_io.open_tmp(NULL, p) : -1;
}

static long r_write(void *ctx, int fd, const void *b, size_t n)
{
    return real_tick(ctx) ? st_image_posix_io.write(NULL, fd, b, n > 5 ? n / 2 : n) : -1;
}

static int r_fsync(void *ctx, int fd)
{
    return real_tick(ctx) ? st_image_posix_io.fsync(NULL, fd) : -1;
}

static int r_close(void *ctx, int fd)
{
    /* A failing close still releases the descriptor, as close(2) does. */
    if (!real_tick(ctx)) {
        st_image_posix_io.close(NULL, fd);
        errno = EIO;
        return -1;
    }
    return st_image_posix_io.close(NULL, fd);
}

static int r_rename(void *ctx, const char *a, const char *b)
{
    return real_tick(ctx) ? st_image_posix_io.rename(NULL, a, b) : -1;
}

static int r_fsync_dir(void *ctx, const char *d)
{
    return real_tick(ctx) ? st_image_posix_io.fsync_dir(NULL, d) : -1;
}

static void test_real_fs_errors(void **unused)
{
    struct world w;
    world_setup(&w, false);
    long ops = 0;
    char err[256];
    for (long k = 0;; k++) {
        struct real_fault r = {k};
        struct st_image_io io = {r_open_tmp, r_write, r_fsync, r_close, r_rename, r_fsync_dir, &r};
        /* Start each round from the old image. */
        assert_int_equal(st_image_save(w.img, w.old_s, NULL, err, sizeof(err)), 0);
        int rc = st_image_save(w.img, w.new_s, &io, err, sizeof(err));
        assert_int_equal(st_image_load(w.img, w.loaded, err, sizeof(err)), 0);
        const struct st_card_state *want = rc == 0 ? w.new_s : w.old_s;
        if (!fx_state_equal(w.loaded, want, err, sizeof(err)))
            fail_msg("real fs, failing op %ld: %s", k, err);
        /* Whatever is left behind, the next save works. */
        assert_int_equal(st_image_save(w.img, w.new_s, NULL, err, sizeof(err)), 0);
        assert_int_equal(st_image_load(w.img, w.loaded, err, sizeof(err)), 0);
        assert_true(fx_state_equal(w.loaded, w.new_s, NULL, 0));
        ops++;
        if (r.budget != -1)
            break; /* no operation failed: the sequence is complete */
    }
    print_message("real file system: %ld failing operations\n", ops - 1);
    world_teardown(&w);
}

/* ---- the card: a failed commit answers 6581 and changes nothing ---- */

static uint16_t send(st_card *card, const char *hex)
{
    uint8_t c[ST_CAPDU_MAX], r[ST_RAPDU_MAX];
    long n = st_hex_decode(hex, strlen(hex), c, sizeof(c));
    assert_true(n > 0);
    size_t rl = st_card_transmit(card, c, (size_t)n, r);
    assert_true(rl >= 2);
    return (uint16_t)(r[rl - 2] << 8 | r[rl - 1]);
}

static const char select_apdu[] = "01A4040007A0000005590010";
/* GENERATE KEY PAIR on persistent private key 01 (its public key 01 follows). */
static const char keygen_apdu[] = "01B90000038401 01";

static bool file_is(const char *path, const uint8_t *img, size_t len)
{
    size_t n = 0;
    uint8_t *b = fx_read_file(path, &n);
    bool same = b != NULL && n == len && memcmp(b, img, len) == 0;
    free(b);
    return same;
}

static void test_card_commit_failure(void **unused)
{
    struct world w;
    world_setup(&w, false);
    struct real_fault r = {0}; /* the first operation (creating the .tmp) fails */
    struct st_image_io io = {r_open_tmp, r_write, r_fsync, r_close, r_rename, r_fsync_dir, &r};
    struct st_card_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.image_path = w.img;
    cfg.io = &io;
    char err[256] = "";
    st_card *card = st_card_open(&cfg, err, sizeof(err));
    if (card == NULL)
        fail_msg("open: %s", err);
    assert_int_equal(send(card, select_apdu), 0x9000);

    /* Every failing operation before the commit point: 6581, nothing changed. */
    long failing = 0;
    for (long k = 0;; k++) {
        struct st_card_state *before = calloc(1, sizeof(*before));
        memcpy(before, st_card_state(card), sizeof(*before));
        size_t img_len = 0;
        uint8_t *img = fx_read_file(w.img, &img_len);
        r.budget = k;
        uint16_t sw = send(card, keygen_apdu);
        bool fired = r.budget == -1;
        char why[128] = "";
        if (sw == 0x6581) {
            if (!fired)
                fail_msg("op %ld: 6581 although no operation failed", k);
            if (!fx_state_equal(st_card_state(card), before, why, sizeof(why)))
                fail_msg("op %ld: 6581 but the card state changed: %s", k, why);
            if (!file_is(w.img, img, img_len))
                fail_msg("op %ld: 6581 but the image file changed", k);
            failing++;
        } else {
            assert_int_equal(sw, 0x9000);
            /* Committed: the file holds exactly what the card holds. */
            assert_int_equal(st_image_load(w.img, w.loaded, err, sizeof(err)), 0);
            if (!fx_state_equal(st_card_state(card), w.loaded, why, sizeof(why)))
                fail_msg("op %ld: 9000 but the file differs from the card: %s", k, why);
            assert_false(fx_state_equal(st_card_state(card), before, NULL, 0));
        }
        free(img);
        free(before);
        if (!fired)
            break;
    }
    /* open, the write calls, fsync, close, rename fail; fsync_dir's failure is not one. */
    assert_true(failing >= 5);
    print_message("card: %ld failing operations answered 6581 with nothing changed\n", failing);

    /* Power cycle: the card reopens on what the file holds. */
    struct st_card_state *last = calloc(1, sizeof(*last));
    memcpy(last, st_card_state(card), sizeof(*last));
    st_card_free(card);
    cfg.io = NULL;
    card = st_card_open(&cfg, err, sizeof(err));
    assert_non_null(card);
    assert_true(fx_state_equal(st_card_state(card), last, NULL, 0));
    st_card_free(card);
    free(last);
    world_teardown(&w);
}

int main(void)
{
    st_log_set_level(ST_LOG_ERROR); /* the injected fsync_dir failures warn by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut_point),     cmocka_unit_test(test_named_steps),
        cmocka_unit_test(test_zero_write),          cmocka_unit_test(test_real_fs_errors),
        cmocka_unit_test(test_card_commit_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
