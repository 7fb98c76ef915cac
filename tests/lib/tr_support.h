/*
 * Helpers of the transport tests (tests/lib/test_*_transport.c): a
 * simtrust-card child process, pseudo-terminal pairs and a scripted fake
 * modem, hex helpers.
 */
#ifndef SIMTRUST_TESTS_TR_SUPPORT_H
#define SIMTRUST_TESTS_TR_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Content of the card image trs_card_start() personalises. */
#define TRS_AID_HEX "A0000005590010"
#define TRS_KEY_ID 0x01  /* private key 01 "client" (generated P-256) and public key 01 */
#define TRS_FILE_ID 0x02 /* file 02 "cert" */
#define TRS_FILE_LEN 600 /* bytes: (i * 7 + 3) mod 256 */

static inline uint8_t trs_file_byte(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* Monotonic milliseconds. */
long long trs_now_ms(void);

/* Hex (either case, spaces ignored) to bytes; -1 on bad input or overflow. */
long trs_unhex(const char *hex, uint8_t *out, size_t cap);

/* The simtrust-card program (env ST_CARD_BIN), NULL if not built. */
const char *trs_card_bin(void);

struct trs_card {
    pid_t pid;
    int out_fd;
    char dir[128];
    char image[192];
    char ready[256]; /* the rest of the ready line ("/dev/pts/3", "127.0.0.1:35964") */
};

/*
 * Personalises a fresh image in a new temporary directory (simtrust-card
 * personalise) and starts `simtrust-card serve --image IMG args...` (args
 * NULL-terminated); waits up to 10 s for the stdout line "ready_prefix ...".
 * Returns 0, or -1 with a reason on stderr.
 */
int trs_card_start(struct trs_card *c, const char *const *args, const char *ready_prefix);

/* Sends sig without waiting (a card "removed" by killing it). */
void trs_card_kill(struct trs_card *c, int sig);

/* SIGTERM (SIGKILL after 5 s), reaps, removes the directory. Returns the exit status. */
int trs_card_stop(struct trs_card *c);

/* A pseudo-terminal pair: master fd (raw, non-blocking) and the slave's path. */
int trs_pty(char *slave, size_t cap);

/*
 * A fake modem on the master side of a pty: a thread splits what the
 * transport writes into lines (CR or LF) and calls reply(fm, line) for
 * each; reply answers with fm_say(). Lines are recorded for checks.
 */
#define FM_LINES 64
struct fake_modem;
typedef void (*fm_reply_fn)(struct fake_modem *fm, const char *line);
struct fake_modem {
    int master;
    char slave[64];
    fm_reply_fn reply;
    void *arg;
    bool echo; /* echo each line back first (ATE1 behaviour, never turned off) */
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t mu;
    unsigned nlines;
    char lines[FM_LINES][600];
};

int fm_start(struct fake_modem *fm, fm_reply_fn reply, void *arg, bool echo);
void fm_stop(struct fake_modem *fm);
/* Writes s (as is) to the line. */
void fm_say(struct fake_modem *fm, const char *s);
void fm_write(struct fake_modem *fm, const void *buf, size_t n);
/* Copy of the i-th recorded line ("" if none). */
void fm_line(struct fake_modem *fm, unsigned i, char *out, size_t cap);
unsigned fm_count(struct fake_modem *fm);
/* The recorded line starting with prefix, most recent first; "" if none. */
void fm_find(struct fake_modem *fm, const char *prefix, char *out, size_t cap);

#endif
