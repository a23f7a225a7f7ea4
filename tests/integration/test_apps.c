/*
 * The example apps end to end, as child processes on the embedded cluster: rill-wordcount (a
 * stateful count with interactive queries) and rill-demo (stateless branches, a join, and a
 * windowed count emitted final with suppress). Each must exit 0 within a time limit and print its
 * checks as passed; the sample text of rill-wordcount is deterministic, so its top words are
 * asserted exactly. Each run gets its own state.dir in a fresh temporary directory, removed
 * afterwards.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"

/* Generous: an app takes about 5 s, most of it the embedded cluster's first group join; the
 * sanitizer build runs these tests too. */
#define TIME_LIMIT_S 120

typedef struct {
    char *out; /* stdout and stderr together, NUL-terminated */
    size_t len;
    int status;     /* the exit status, or -1 when killed or not exited */
    double seconds; /* wall-clock time of the run */
} run_t;

/* Runs argv (argv[0] a path), collecting its output; kills it after TIME_LIMIT_S. */
static run_t run(char *const argv[])
{
    run_t r = {.status = -1};
    size_t cap = 1 << 16;
    r.out = malloc(cap);
    assert_non_null(r.out);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double start = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    bool killed = false;
    for (;;) {
        double left = TIME_LIMIT_S - (now_s() - start);
        if (left <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int n = poll(&pfd, 1, killed ? 1000 : (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (killed)
                break;
            continue;
        }
        if (r.len + 4096 + 1 > cap) {
            cap *= 2;
            r.out = realloc(r.out, cap);
            assert_non_null(r.out);
        }
        ssize_t got = read(fds[0], r.out + r.len, cap - r.len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        r.len += (size_t)got;
    }
    close(fds[0]);
    r.out[r.len] = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r.seconds = now_s() - start;
    r.status = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    print_message("%s: exit %d after %.2f s%s\n", argv[0], r.status, r.seconds,
                  killed ? " (killed: over the time limit)" : "");
    return r;
}

/* Asserts that out has line as one of its lines, printing out when it does not. */
static void assert_line(const run_t *r, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = r->out; (p = strstr(p, line)); p++)
        if ((p == r->out || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
            return;
    print_error("no line \"%s\" in the output:\n%s\n", line, r->out);
    fail();
}

static void assert_exit_0(const run_t *r)
{
    if (r->status != 0)
        print_error("the output:\n%s\n", r->out);
    assert_int_equal(r->status, 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* One run's state.dir: a fresh temporary directory, removed by the teardown even when the test
 * fails, and the --config argument naming it. */
typedef struct {
    char dir[64];
    char config[128];
} state_dir_t;

static int make_state_dir(void **state)
{
    state_dir_t *s = calloc(1, sizeof *s);
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s/rill-test-apps-XXXXXX", tmp);
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    snprintf(s->config, sizeof s->config, "state.dir=%s", s->dir);
    *state = s;
    return 0;
}

static int remove_state_dir(void **state)
{
    state_dir_t *s = *state;
    int rc = nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(s);
    return rc;
}

/* Asserts that the app kept its stores under <state.dir>/<application id>. */
static void assert_state_used(const state_dir_t *s, const char *application_id)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s->dir, application_id);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_wordcount(void **state)
{
    state_dir_t *s = *state;
    char *argv[] = {RILL_BIN_DIR "/rill-wordcount", "--config", s->config, NULL};
    run_t r = run(argv);
    assert_exit_0(&r);
    /* The repartition by word: two sub-topologies joined by the grouping's topic. */
    assert_line(&r, "    Sink: words-sink (topic: words-repartition)");
    assert_line(&r, "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts])");
    assert_line(&r, "== Wrote 300 lines (2065 words, 40 distinct) to 'streams-plaintext-input' ==");
    assert_line(&r, "== Top 10 words (interactive query of store 'counts') ==");
    assert_line(&r, "   1. the          473");
    assert_line(&r, "   2. stream       260");
    assert_line(&r, "   3. of           167");
    assert_line(&r, "   4. and          108");
    assert_line(&r, "   5. a             90");
    assert_line(&r, "   6. records       76");
    assert_line(&r, "   7. kafka         75");
    assert_line(&r, "   8. to            67");
    assert_line(&r, "   9. is            61");
    assert_line(&r, "  10. in            50");
    /* A UTF-8 word, fed as "straße", "Straße" and "STRAßE", read back by a point query. */
    assert_line(&r, "  'straße' is in partition 2 (local): 9");
    assert_line(&r, "  store 'counts': 2065 words, 40 distinct (fed 2065, 40)");
    assert_line(&r, "  topic 'streams-wordcount-output': latest counts sum to 2065 over 40 words");
    assert_line(&r, "== OK: totals match: every word counted once, in the store and on "
                    "'streams-wordcount-output' ==");
    assert_state_used(s, "rill-wordcount");
    free(r.out);
}

/* The topics and the application id come from the command line, as in every rill_main() app. */
static void test_wordcount_names(void **state)
{
    state_dir_t *s = *state;
    char *argv[] = {RILL_BIN_DIR "/rill-wordcount",
                    "--application-id",
                    "wc-test",
                    "--config",
                    s->config,
                    "--",
                    "lines",
                    "word-counts",
                    NULL};
    run_t r = run(argv);
    assert_exit_0(&r);
    assert_line(&r, "    Source: KSTREAM-SOURCE-0000000000 (topics: [lines])");
    assert_line(&r, "    Sink: KSTREAM-SINK-0000000005 (topic: word-counts)");
    assert_line(&r, "== Wrote 300 lines (2065 words, 40 distinct) to 'lines' ==");
    assert_line(&r, "== OK: totals match: every word counted once, in the store and on "
                    "'word-counts' ==");
    assert_state_used(s, "wc-test");
    free(r.out);
}

static void test_demo(void **state)
{
    state_dir_t *s = *state;
    char *argv[] = {RILL_BIN_DIR "/rill-demo", "--config", s->config, NULL};
    run_t r = run(argv);
    assert_exit_0(&r);
    assert_line(&r, "== Wrote 10000 page views to 'pageviews' (1287 from bots) over 6 minutes ==");
    assert_line(&r, "  pageviews-eu      3560 records (expected 3560)");
    assert_line(&r, "  pageviews-other    841 records (expected 841)");
    assert_line(&r, "== OK: every page view was counted once, in the right branch ==");
    assert_line(&r, "== Page views per region per minute (final counts written to "
                    "'pageviews-per-region-per-minute') ==");
    assert_line(&r, "== OK: all 20 closed windows emitted once, with the counts generated ==");
    /* The join: every human page view with its user's profile and its country's region. */
    assert_line(&r, "== OK: 8713 of 8713 human page views enriched, 0 with a wrong profile or "
                    "region ==");
    /* Every final count reads "[region@start/end] count", windows of one minute. */
    int windows = 0;
    for (const char *p = r.out; (p = strstr(p, "\n  [")); p++) {
        char region[16];
        long long start, end, count;
        assert_int_equal(sscanf(p, "\n  [%15[a-z]@%lld/%lld] %lld", region, &start, &end, &count),
                         4);
        assert_int_equal(end - start, 60000);
        assert_int_equal(start % 60000, 0);
        assert_true(count > 0);
        windows++;
    }
    assert_int_equal(windows, 20);
    assert_state_used(s, "rill-demo");
    free(r.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wordcount, make_state_dir, remove_state_dir),
        cmocka_unit_test_setup_teardown(test_wordcount_names, make_state_dir, remove_state_dir),
        cmocka_unit_test_setup_teardown(test_demo, make_state_dir, remove_state_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
