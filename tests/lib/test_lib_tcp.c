/*
 * TCP transport (lib/transport/tcp.c) against the real server:
 * `simtrust-card serve --image IMG --tcp 127.0.0.1:0`, whose ready line
 * "tcp: 127.0.0.1:PORT" tells the port. The IoT SAFE client runs over it
 * (IoT.04 D7: the applet does not care about the physical interface); then
 * the transport's errors: a stopped server (ST_E_TIMEOUT), a closed
 * connection (ST_E_LINK_CLOSED), nobody listening (ST_E_NO_READER), bad
 * addresses (ST_E_ARG). Skipped (77) without the simtrust-card program
 * (ST_CARD_BIN).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "card_fixture.h"
#include "simtrust/iotsafe.h"
#include "simtrust/tcp.h"

static char g_dir[256], g_img[300], g_addr[200];
static pid_t g_pid = -1;
static FILE *g_out;

/* Writes the fixture card (plus a file) to an image and starts the server. */
static int start_server(void **st)
{
    (void)st;
    const char *bin = getenv("ST_CARD_BIN");
    static struct st_card_state s;
    char err[200];
    snprintf(g_dir, sizeof g_dir, "%s/st-tcp-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_img, sizeof g_img, "%s/card.img", g_dir);
    memcpy(&s, cfx_state(), sizeof s);
    struct st_object *o = st_objects_alloc(&s, ST_OBJ_FILE);
    o->id_len = 1;
    o->id[0] = 0x02;
    o->access = ST_ACCESS_READ;
    for (int i = 0; i < 1000; i++)
        o->value[i] = (uint8_t)(i * 3);
    o->value_len = 1000;
    struct st_card_config cc = {.image_path = g_img};
    st_card *card = st_card_new(&cc, &s, err, sizeof err);
    if (card == NULL)
        fail_msg("image: %s", err);
    st_card_free(card);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    g_pid = fork();
    assert_true(g_pid >= 0);
    if (g_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "serve", "--image", g_img, "--tcp", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    g_out = fdopen(fds[0], "r");
    char line[200];
    while (fgets(line, sizeof line, g_out) != NULL) {
        if (strncmp(line, "tcp: ", 5) == 0) {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(g_addr, sizeof g_addr, "%s", line + 5);
            return 0;
        }
    }
    fail_msg("simtrust-card serve printed no 'tcp:' line");
    return -1;
}

static int stop_server(void **st)
{
    (void)st;
    if (g_pid > 0) {
        kill(g_pid, SIGCONT);
        kill(g_pid, SIGTERM);
        waitpid(g_pid, NULL, 0);
        g_pid = -1;
    }
    if (g_out != NULL)
        fclose(g_out);
    unlink(g_img);
    rmdir(g_dir);
    return 0;
}

static void test_iotsafe_over_tcp(void **st)
{
    (void)st;
    struct st_transport tr;
    struct st_sim sim;
    struct st_iotsafe ios;
    char err[200] = "";
    assert_int_equal(st_tcp_open(&tr, g_addr, 5000, err, sizeof err), ST_OK);
    assert_string_equal(tr.ops->name, "tcp");
    st_sim_init(&sim, &tr);
    assert_int_equal(st_iotsafe_init(&ios, &sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&ios), ST_OK);

    struct st_iotsafe_app_info ai;
    assert_int_equal(st_iotsafe_get_app_info(&ios, &ai), ST_OK);
    assert_int_equal(ai.present, 0x0FFF);
    struct st_iotsafe_object objs[32];
    size_t cnt = 32;
    assert_int_equal(st_iotsafe_list_objects(&ios, objs, &cnt), ST_OK);
    assert_int_equal(cnt, 20);

    uint8_t dig[32], sig[64], buf[1100];
    unsigned dl = 0;
    EVP_Digest("tcp", 3, dig, &dl, EVP_sha256(), NULL);
    struct st_iotsafe_ref k, f;
    st_iotsafe_ref_label(&k, "client", 6);
    st_iotsafe_ref_id(&f, (const uint8_t *)"\x02", 1);
    size_t sl = sizeof sig;
    assert_int_equal(st_iotsafe_sign_digest(&ios, &k, dig, 32, sig, &sl), ST_OK);
    const struct st_object *pub = st_objects_find(
        (struct st_card_state *)cfx_state(), ST_OBJ_PUBLIC_KEY, false, (const uint8_t *)"\x01", 1);
    EVP_PKEY *pk = cfx_public_pkey(pub->key_type, pub->value, pub->value_len);
    assert_true(cfx_ecdsa_ok(pk, dig, 32, sig));
    EVP_PKEY_free(pk);
    size_t n = sizeof buf;
    assert_int_equal(st_iotsafe_read_file(&ios, &f, buf, &n), ST_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(buf[999], (uint8_t)(999 * 3));

    /* Reset (02, then 04 for the ATR): the channel is gone afterwards. */
    uint8_t atr[40];
    size_t al = sizeof atr;
    assert_int_equal(tr.ops->reset(tr.ctx, atr, &al), ST_OK);
    assert_true(al >= 2 && atr[0] == 0x3B);
    assert_int_equal(st_iotsafe_get_random(&ios, buf, 8), ST_E_CARD_CHANNEL);
    (void)st_iotsafe_close(&ios);
    assert_int_equal(st_iotsafe_open(&ios), ST_OK);
    assert_int_equal(st_iotsafe_get_random(&ios, buf, 8), ST_OK);

    /* A server that stops answering: timeout, then the link is dropped. */
    assert_int_equal(st_tcp_set_timeout(&tr, 300), ST_OK);
    kill(g_pid, SIGSTOP);
    assert_int_equal(st_iotsafe_get_random(&ios, buf, 8), ST_E_TIMEOUT);
    kill(g_pid, SIGCONT);
    assert_int_equal(st_iotsafe_get_random(&ios, buf, 8), ST_E_LINK_CLOSED);
    tr.ops->close(tr.ctx);

    /* A new connection works again (the server serves one client at a time). */
    assert_int_equal(st_tcp_open(&tr, g_addr, 5000, err, sizeof err), ST_OK);
    st_sim_init(&sim, &tr);
    assert_int_equal(st_iotsafe_init(&ios, &sim, NULL), ST_OK);
    assert_int_equal(st_iotsafe_open(&ios), ST_OK);
    /* The server goes away under an open connection. */
    kill(g_pid, SIGTERM);
    waitpid(g_pid, NULL, 0);
    g_pid = -1;
    int rc = st_iotsafe_get_random(&ios, buf, 8);
    assert_true(rc == ST_E_LINK_CLOSED || rc == ST_E_IO);
    assert_string_equal(st_error_layer(rc), "transport");
    tr.ops->close(tr.ctx);
    /* Nobody listens any more. */
    assert_int_equal(st_tcp_open(&tr, g_addr, 2000, err, sizeof err), ST_E_NO_READER);
    assert_string_not_equal(err, "");
}

static void test_bad_addresses(void **st)
{
    (void)st;
    struct st_transport tr = {0};
    char err[200];
    static const char *bad[] = {"",           "localhost",     "127.0.0.1:", ":35963",
                                "[::1]35963", "127.0.0.1:12a", "[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(st_tcp_open(&tr, bad[i], 100, err, sizeof err), ST_E_ARG);
    assert_int_equal(st_tcp_open(&tr, NULL, 100, NULL, 0), ST_E_ARG);
    assert_int_equal(st_tcp_open(&tr, "no-such-host.invalid:1", 100, err, sizeof err),
                     ST_E_NO_READER);
    assert_int_equal(st_tcp_set_timeout(&tr, 10), ST_E_ARG);
}

int main(void)
{
    if (getenv("ST_CARD_BIN") == NULL || access(getenv("ST_CARD_BIN"), X_OK) != 0) {
        printf("# simtrust-card not built (ST_CARD_BIN): skipped\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_iotsafe_over_tcp, start_server, stop_server),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
