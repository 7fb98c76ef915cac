/*
 * `simtrust-card serve`: opens a card image and exposes the card through the
 * requested front ends (card/frontend/frontend.h), all in one single-threaded
 * poll() loop because the card is not thread-safe. IoT.04 D7: the same
 * applet, whatever the physical interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "card.h"
#include "cli.h"
#include "frontend/at_parse.h"
#include "frontend/frontend.h"
#include "st_log.h"

#define EXIT_USAGE 2
#define MAX_FRONTENDS 3

static const char serve_help[] =
    "Usage: simtrust-card serve --image FILE FRONT-END... [OPTION]...\n"
    "\n"
    "Runs the virtual UICC stored in FILE (made by `simtrust-card personalise`)\n"
    "and lets clients reach its IoT SAFE applet through one or more front ends.\n"
    "Updates the card makes (generated keys, imported public keys...) are written\n"
    "back to FILE atomically. All front ends share one card and one thread.\n"
    "\n"
    "When a front end is ready, one line is printed on standard output (and\n"
    "flushed), in the order the front ends are listed below:\n"
    "  vpcd: HOST:PORT        the pcscd vpcd endpoint the card connects to\n"
    "  modem: /dev/pts/N      the serial device of the emulated modem\n"
    "  tcp: HOST:PORT         the address the TCP server listens on\n"
    "Logs go to standard error.\n"
    "\n"
    "Front ends (at least one):\n"
    "  --vpcd [[HOST:]PORT]   connect to pcscd's vpcd driver (package\n"
    "                         vsmartcard-vpcd) as its virtual card; default\n"
    "                         127.0.0.1:35963 = reader 'Virtual PCD 00 00'\n"
    "                         (35964 = 'Virtual PCD 00 01'). Reconnects with\n"
    "                         backoff while pcscd is absent or restarts.\n"
    "                         Responses are direct (T=1 style).\n"
    "  --modem                emulate a cellular module on a new pseudo-terminal:\n"
    "                         AT, ATE0/ATE1 (echo on by default), ATI, AT+CMEE,\n"
    "                         AT+CSIM, AT+CCHO, AT+CGLA, AT+CCHC (3GPP TS 27.007).\n"
    "                         Responses are T=0 style (case 4 -> 61xx, then\n"
    "                         GET RESPONSE).\n"
    "  --modem-link PATH      also create the symlink PATH -> the pty (implies\n"
    "                         --modem), e.g. /dev/ttyACM0 for clients that\n"
    "                         hard-code it; removed at exit. An existing file\n"
    "                         that is not a symlink is never replaced.\n"
    "  --tcp [HOST:]PORT      TCP server with the vpcd framing (see\n"
    "                         docs/card-frontends.md); HOST defaults to\n"
    "                         127.0.0.1, PORT 0 picks a free port (printed).\n"
    "                         One client at a time; others wait their turn.\n"
    "\n"
    "Modem options:\n"
    "  --max-line N           longest AT command line in bytes (default 2048,\n"
    "                         16..65536); a longer line is discarded -> ERROR\n"
    "  --urc-every N          send the unsolicited result code \"+CREG: 1\" after\n"
    "                         every Nth reply (default 0 = never), to test clients\n"
    "  --csim-no-channels     behave like modules that only allow logical channels\n"
    "                         through AT+CCHO/CGLA: MANAGE CHANNEL inside AT+CSIM\n"
    "                         answers 6D00, and an APDU on a channel not opened\n"
    "                         with AT+CCHO answers 6881\n"
    "\n"
    "Other options:\n"
    "  --image FILE           the card image (required)\n"
    "  --trace FILE|-         append one line per APDU (command and response, hex)\n"
    "                         to FILE, or standard output for '-' (default: none).\n"
    "                         Traces show key material that passes the interface\n"
    "                         (e.g. COMPUTE DH results): for tests only.\n"
    "  --latency L            make the card as slow as a real one (default none):\n"
    "                         none; sim (per APDU 2 ms); modem-sim (per APDU 20 ms);\n"
    "                         both with per byte 50us, sign 100ms, verify 100ms,\n"
    "                         ecdh 110ms, keygen 800ms, prf 30ms, hkdf 30ms,\n"
    "                         random 10ms, write 10ms, and real sleeping; or a list\n"
    "                         [PRESET,]KEY=VALUE,... with keys per_apdu, per_byte,\n"
    "                         sign, verify, ecdh, keygen, prf, hkdf, random, write\n"
    "                         (values like 100ms, 50us, 1s) and sleep=yes|no\n"
    "                         (a list sleeps unless sleep=no)\n"
    "  --log-level L          error, warn, info (default) or debug\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "Signals: SIGTERM and SIGINT stop the server cleanly (card closed, symlink\n"
    "removed).\n"
    "\n"
    "Exit status:\n"
    "  0  stopped by SIGTERM or SIGINT, or --help\n"
    "  1  the image could not be opened, or a front end could not start or failed\n"
    "  2  usage error\n"
    "\n"
    "Examples:\n"
    "  # PC/SC: pcscd running with the vpcd driver (vsmartcard-vpcd), then\n"
    "  simtrust-card serve --image card.img --vpcd\n"
    "  opensc-tool -r 'Virtual PCD 00 00' -s 00A4040007A0000005590010   # ... 90 00\n"
    "\n"
    "  # A modem for the Thales middleware, 20 ms per APDU like a real module:\n"
    "  simtrust-card serve --image card.img --modem-link /dev/ttyACM0 --latency modem-sim\n"
    "\n"
    "  # TCP on a free port, APDU trace on standard output:\n"
    "  simtrust-card serve --image card.img --tcp 0 --trace -\n";

struct serve_opts {
    const char *image;
    bool vpcd;
    char vpcd_host[256];
    uint16_t vpcd_port;
    bool modem;
    struct st_modem_config modem_cfg;
    bool tcp;
    char tcp_host[256];
    uint16_t tcp_port;
    const char *trace;
    struct st_latency latency;
    int log_level;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "simtrust-card serve: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'simtrust-card serve --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int parse_count(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Value of "--opt VALUE" or "--opt=VALUE"; NULL if missing. */
static const char *take_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL)
        return eq + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* Returns -1 to go on, or the exit code (help, usage error). */
static int parse_args(int argc, char **argv, struct serve_opts *o)
{
    char err[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
        if (IS("-h") || IS("--help")) {
            fputs(serve_help, stdout);
            return 0;
        } else if (IS("--vpcd")) {
            /* The endpoint is optional: take the next word unless it is an option. */
            const char *v = eq ? eq + 1 : NULL;
            if (v == NULL && i + 1 < argc && argv[i + 1][0] != '-')
                v = argv[++i];
            o->vpcd = true;
            if (v != NULL &&
                st_fe_parse_endpoint(v, ST_FE_VPCD_DEFAULT_HOST, o->vpcd_host, sizeof(o->vpcd_host),
                                     &o->vpcd_port, err, sizeof(err)) != 0)
                return usage_error("%s", err);
        } else if (IS("--modem")) {
            o->modem = true;
        } else if (IS("--csim-no-channels")) {
            o->modem_cfg.csim_no_channels = true;
        } else {
            const char *v = take_value(argc, argv, &i, eq);
            unsigned long n;
            if (!(IS("--image") || IS("--modem-link") || IS("--max-line") || IS("--urc-every") ||
                  IS("--tcp") || IS("--trace") || IS("--latency") || IS("--log-level")))
                return usage_error("unknown option '%s'", a);
            if (v == NULL)
                return usage_error("option '%s' needs a value", a);
            if (IS("--image")) {
                o->image = v;
            } else if (IS("--modem-link")) {
                o->modem = true;
                o->modem_cfg.link = v;
            } else if (IS("--max-line")) {
                if (parse_count(v, ST_MODEM_LINE_MIN, ST_MODEM_LINE_MAX, &n) != 0)
                    return usage_error("--max-line must be 16..65536, not '%s'", v);
                o->modem_cfg.max_line = n;
            } else if (IS("--urc-every")) {
                if (parse_count(v, 0, 1000000, &n) != 0)
                    return usage_error("--urc-every must be a count, not '%s'", v);
                o->modem_cfg.urc_every = (unsigned)n;
            } else if (IS("--tcp")) {
                o->tcp = true;
                if (st_fe_parse_endpoint(v, ST_FE_TCP_DEFAULT_HOST, o->tcp_host,
                                         sizeof(o->tcp_host), &o->tcp_port, err, sizeof(err)) != 0)
                    return usage_error("%s", err);
            } else if (IS("--trace")) {
                o->trace = v;
            } else if (IS("--latency")) {
                if (st_latency_parse(v, &o->latency, err, sizeof(err)) != 0)
                    return usage_error("%s", err);
            } else if (IS("--log-level")) {
                o->log_level = st_log_parse_level(v);
                if (o->log_level < 0)
                    return usage_error("--log-level must be error, warn, info or debug, not '%s'",
                                       v);
            }
        }
#undef IS
    }
    if (o->image == NULL)
        return usage_error("%s", "--image FILE is required");
    if (!o->vpcd && !o->modem && !o->tcp)
        return usage_error("%s", "give at least one front end: --vpcd, --modem or --tcp");
    return -1;
}

/* Self-pipe: the signal handler only writes a byte; the loop sees it in poll(). */
static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(stop_pipe[1], &b, 1) < 0) {
        /* Nothing to do: the pipe is full, so a stop is already pending. */
    }
    errno = saved;
}

static int setup_signals(void)
{
    if (pipe(stop_pipe) != 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        fcntl(stop_pipe[k], F_SETFD, FD_CLOEXEC);
        fcntl(stop_pipe[k], F_SETFL, fcntl(stop_pipe[k], F_GETFL) | O_NONBLOCK);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A client that disconnects mid-reply must not kill the card. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int run_loop(st_fe **fe, size_t nfe)
{
    struct pollfd pfd[1 + MAX_FRONTENDS * ST_FE_MAX_POLLFDS];
    size_t first[MAX_FRONTENDS], count[MAX_FRONTENDS];
    for (;;) {
        size_t n = 0;
        int timeout = -1;
        pfd[n++] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
        for (size_t i = 0; i < nfe; i++) {
            first[i] = n;
            count[i] = st_fe_pollfds(fe[i], pfd + n, ST_FE_MAX_POLLFDS, &timeout);
            n += count[i];
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            st_err("poll: %s", strerror(errno));
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            unsigned char sig = 0;
            if (read(stop_pipe[0], &sig, 1) == 1)
                st_info("signal %d: stopping", sig);
            return 0;
        }
        for (size_t i = 0; i < nfe; i++)
            if (st_fe_dispatch(fe[i], pfd + first[i], count[i]) != 0)
                return 1;
    }
}

int st_cli_serve(int argc, char **argv)
{
    struct serve_opts o;
    memset(&o, 0, sizeof(o));
    strcpy(o.vpcd_host, ST_FE_VPCD_DEFAULT_HOST);
    o.vpcd_port = ST_FE_VPCD_DEFAULT_PORT;
    o.modem_cfg.max_line = ST_MODEM_LINE_DEFAULT;
    o.log_level = ST_LOG_INFO;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    st_log_set_level((enum st_log_level)o.log_level);

    FILE *trace = NULL;
    if (o.trace != NULL) {
        trace = strcmp(o.trace, "-") == 0 ? stdout : fopen(o.trace, "a");
        if (trace == NULL) {
            st_err("cannot open trace file %s: %s", o.trace, strerror(errno));
            return 1;
        }
    }
    struct st_card_config cfg = {
        .image_path = o.image,
        .t0_style = false,
        .trace = trace,
        .latency = o.latency,
    };
    char err[512];
    st_card *card = st_card_open(&cfg, err, sizeof(err));
    if (card == NULL) {
        st_err("cannot open card image %s: %s", o.image, err);
        if (trace != NULL && trace != stdout)
            fclose(trace);
        return 1;
    }
    if (setup_signals() != 0) {
        st_err("pipe: %s", strerror(errno));
        st_card_free(card);
        return 1;
    }

    st_fe *fe[MAX_FRONTENDS];
    size_t nfe = 0;
    rc = 0;
    if (o.vpcd) {
        fe[nfe] = st_fe_vpcd_new(card, o.vpcd_host, o.vpcd_port, err, sizeof(err));
        rc |= fe[nfe] == NULL;
        nfe += fe[nfe] != NULL;
    }
    if (rc == 0 && o.modem) {
        fe[nfe] = st_fe_modem_new(card, &o.modem_cfg, err, sizeof(err));
        rc |= fe[nfe] == NULL;
        nfe += fe[nfe] != NULL;
    }
    if (rc == 0 && o.tcp) {
        fe[nfe] = st_fe_tcp_new(card, o.tcp_host, o.tcp_port, err, sizeof(err));
        rc |= fe[nfe] == NULL;
        nfe += fe[nfe] != NULL;
    }
    if (rc != 0) {
        st_err("%s", err);
        rc = 1;
    } else {
        for (size_t i = 0; i < nfe; i++)
            printf("%s\n", st_fe_ready_line(fe[i]));
        fflush(stdout);
        rc = run_loop(fe, nfe);
    }
    for (size_t i = 0; i < nfe; i++)
        st_fe_free(fe[i]);
    st_card_free(card);
    if (trace != NULL && trace != stdout)
        fclose(trace);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc;
}
