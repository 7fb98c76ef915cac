/*
 * Helpers of the front-end tests: a card image with known content, running
 * `simtrust-card serve` as a child and reading its ready lines, checks.
 */
#ifndef SIMTRUST_TESTS_FE_UTIL_H
#define SIMTRUST_TESTS_FE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Content of the test image (fe_make_image). */
#define FE_KEY_ID 0x01  /* private key 01 "client" (P-256) and its public key 01 */
#define FE_FILE_ID 0x02 /* file 02 "cert" */
#define FE_FILE_LEN 300 /* bytes: i * 7 + 3 (mod 256) */
#define FE_AID_HEX "A0000005590010"

/* The byte at offset i of file 02. */
static inline uint8_t fe_file_byte(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* Writes the test card image to path. 0 or -1 (reason on stderr). */
int fe_make_image(const char *path);

/* Failure accounting: every check prints its outcome. */
extern int fe_failures;
#define FE_CHECK(cond, ...) fe_check((cond), __FILE__, __LINE__, __VA_ARGS__)
void fe_check(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fe_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Hex to bytes (either case); dies on bad input. Returns the byte count. */
size_t fe_unhex(const char *hex, uint8_t *out, size_t cap);

/* A running `simtrust-card serve`. */
struct fe_server {
    pid_t pid;
    int out_fd; /* its stdout */
    char tmpdir[256];
    char image[300];
};

/*
 * Makes a fresh image in a new temporary directory and starts
 * `card_prog serve --image IMAGE args...` (args NULL-terminated). Waits up
 * to 10 s for a stdout line starting with ready_prefix and copies the rest
 * of that line to value. Dies on failure.
 */
void fe_server_start(struct fe_server *s, const char *card_prog, const char *const *args,
                     const char *ready_prefix, char *value, size_t cap);

/* SIGTERM, waits up to 10 s; returns the exit status (-1 if killed). Removes the directory. */
int fe_server_stop(struct fe_server *s);

/* Monotonic milliseconds. */
long long fe_now_ms(void);

#endif
